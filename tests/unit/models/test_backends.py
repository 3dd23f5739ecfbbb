"""The GPU machine runs JAX (TensorFlow cannot be carried there), so CI guards that path
on CPU: the CRF's brute-force tests pass under JAX, and the default preset with its CRF
trains under JAX and loads and predicts the same under TensorFlow."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.support import ROOT

# XLA's CPU optimiser off: these tests check what the model code computes under JAX, not
# XLA's optimisations, and compile in about half the time (the training test: 26 s -> 18 s).
JAX_ENV = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT),
           "XLA_FLAGS": "--xla_backend_optimization_level=0"}

# One JAX process runs every check: each process pays about 5 s of CPU to import JAX and
# Keras before it does anything, and the checks read their parts of what it prints.
UNDER_JAX = """
import json, sys
import keras, numpy as np, pytest
from models.ner import PRESETS, build_ner_model, resolve_config
from tasks.ner.batches import BatchSequence, make_batch
from tests.unit.models.tiny_ner import LABELS, legal_labels, tiny_split

assert keras.backend.backend() == "jax"
crf_exit = int(pytest.main(["-q", "-p", "no:cacheprovider", "tests/unit/models/test_crf.py"]))

preset_losses = {}
for preset in sorted(PRESETS):
    keras.utils.set_random_seed(0)
    config = resolve_config(preset, gcn_units=16)
    model = build_ner_model(config, 30, 6, 20, 9, 45, labels=LABELS)
    model.compile(optimizer="adam", loss=None if config.output == "crf" else "sparse_categorical_crossentropy")
    x, y, w = make_batch(legal_labels(tiny_split(np.random.default_rng(1))), np.arange(10), 24,
                         doc_neighbours=config.document_inputs)
    preset_losses[preset] = [float(model.train_on_batch(x, y, sample_weight=w)) for _ in range(3)]

keras.utils.set_random_seed(0)
config = resolve_config("default", output="crf")
model = build_ner_model(config, vocab_size=30, embedding_dim=6, num_chars=20, num_labels=9, num_dep_labels=45,
                        labels=LABELS)
model.compile(optimizer=keras.optimizers.Adam(0.005))
split = legal_labels(tiny_split(np.random.default_rng(3), count=24))
train_losses = []
for epoch in range(10):  # one fit per epoch, each on its own shuffle, as train_ner trains
    batches = BatchSequence(split, 8, 24, seed=0, epoch=epoch, documents=True, doc_neighbours=config.document_inputs)
    train_losses += model.fit(batches, epochs=epoch + 1, initial_epoch=epoch, verbose=0).history["loss"]
x, _, _ = make_batch(split, np.arange(len(split)), 24, doc_neighbours=config.document_inputs)
model.save(sys.argv[1])
np.save(sys.argv[2], np.asarray(model.predict_on_batch(x)).argmax(-1))
print("UNDER_JAX " + json.dumps({"crf_exit": crf_exit, "preset_losses": preset_losses, "train_losses": train_losses}))
"""


@pytest.fixture(scope="module")
def under_jax(tmp_path_factory):
    """What the JAX process found: its CRF tests' exit code, every preset's losses, the
    default's training losses, and the paths of its saved model and predictions."""
    folder = tmp_path_factory.mktemp("jax")
    saved, paths = folder / "jax.keras", folder / "paths.npy"
    proc = subprocess.run([sys.executable, "-c", UNDER_JAX, str(saved), str(paths)], cwd=ROOT, env=JAX_ENV,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(line for line in reversed(proc.stdout.splitlines()) if line.startswith("UNDER_JAX "))
    return {**json.loads(line.removeprefix("UNDER_JAX ")), "saved": saved, "paths": paths, "log": proc.stdout}


def test_every_preset_trains_to_a_finite_loss_under_jax(under_jax):
    """seed_readme once trained to NaN under JAX only: its softmax output zeroed padded
    rows, and JAX's cross-entropy turns an all-zero row into 0/0."""
    losses = under_jax["preset_losses"]
    assert all(np.isfinite(v).all() for v in losses.values()), losses


def test_crf_brute_force_tests_pass_under_jax(under_jax):
    assert under_jax["crf_exit"] == 0 and " passed" in under_jax["log"], under_jax["log"][-3000:]


def test_default_crf_trains_under_jax_and_predicts_the_same_under_tensorflow(under_jax):
    import keras

    from models.ner import resolve_config
    from tasks.ner.batches import make_batch
    from tests.unit.models.tiny_ner import legal_labels, tiny_split

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the comparison side is TensorFlow")
    losses = under_jax["train_losses"]
    assert np.mean(losses[-2:]) < 0.7 * np.mean(losses[:2]), losses

    import models.ner  # noqa: F401  (registers the layers and CrfTagger)

    model = keras.models.load_model(under_jax["saved"])
    split = legal_labels(tiny_split(np.random.default_rng(3), count=24))
    doc_neighbours = resolve_config("default", output="crf").document_inputs
    x, _, _ = make_batch(split, np.arange(len(split)), 24, doc_neighbours=doc_neighbours)
    np.testing.assert_array_equal(np.asarray(model.predict_on_batch(x)).argmax(-1), np.load(under_jax["paths"]))
