"""Deterministic training: the same params and seed give the same numbers.

Seeds Python, NumPy and the Keras backend, and on TensorFlow turns on op determinism
(deterministic kernels and reductions, at some speed cost). Data order and sampling are
seeded separately by the callers from the same seed.
"""
from __future__ import annotations


def seed_everything(seed: int) -> str:
    """Seed every generator; returns the backend name."""
    import keras

    keras.utils.set_random_seed(seed)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return backend
