"""Keras model code only: no file I/O, no tracking. Pure keras / keras.ops, so every
model here runs on the TensorFlow, JAX or PyTorch backend."""
