"""The fused context layer against Keras' own bidirectional LSTM with the same weights:
outputs and every gradient agree on masked batches with rows of every length, empty
padding rows and a single row, and the layer saves and loads as itself."""
import keras
import numpy as np
import pytest
from keras import layers

from models import lstm
from models.lstm import ContextBiLSTM

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the fused path is TensorFlow's")


def pair(units=6, dim=5, seed=0):
    """(fused layer, Keras' layer) with one set of random weights."""
    fused = ContextBiLSTM(units=units)
    plain = layers.Bidirectional(layers.LSTM(units, return_sequences=True))
    fused.build((None, None, dim))
    plain.build((None, None, dim))
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.5, w.shape).astype("float32") for w in fused.get_weights()]
    fused.set_weights(weights)
    plain.set_weights(weights)
    return fused, plain


def batch(lengths, T, dim=5, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(lengths), T, dim)).astype("float32")
    mask = np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    return x * mask[..., None], mask


@pytest.mark.parametrize("lengths,T", [([7, 1, 0, 4, 7, 2, 0, 3, 5], 8), ([3], 3), ([1], 4), ([0, 2], 5),
                                        ([5, 5, 5, 5], 6)])
def test_fused_path_gives_keras_outputs_and_gradients(lengths, T):
    import tensorflow as tf

    fused, plain = pair()
    x, mask = batch(lengths, T)
    x, mask = tf.constant(x), tf.constant(mask)
    assert lstm._fused_applies(fused, None, mask)
    probe = tf.constant(np.random.default_rng(2).normal(size=(len(lengths), T, 12)).astype("float32"))
    grads = []
    for layer in (fused, plain):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, mask=mask)
            loss = tf.reduce_sum(tf.sin(out * probe))  # every output position weighs differently
        grads.append(tape.gradient(loss, [x, *layer.trainable_variables]))
        if layer is fused:
            fused_out = out.numpy()
    np.testing.assert_allclose(fused_out, out.numpy(), atol=1e-5)
    assert np.all(fused_out[~mask.numpy()] == 0)
    for g_fused, g_plain in zip(*grads):
        np.testing.assert_allclose(tf.convert_to_tensor(g_fused).numpy(), tf.convert_to_tensor(g_plain).numpy(),
                                   atol=1e-4)


def test_keras_path_when_the_fused_kernel_would_differ():
    fused, _ = pair()
    _, mask = batch([3, 2], 4)
    assert not lstm._fused_applies(fused, None, None)  # no mask: every position is a step
    dropped = ContextBiLSTM(layers.LSTM(6, return_sequences=True, dropout=0.5))
    dropped.build((None, None, 5))
    assert not lstm._fused_applies(dropped, None, mask)


def test_keras_path_under_xla_which_has_no_fused_kernel():
    import tensorflow as tf

    fused, plain = pair()
    x, mask = batch([3, 1, 4], 4)
    compiled = tf.function(lambda x, m: fused(x, mask=m), jit_compile=True)
    np.testing.assert_allclose(compiled(tf.constant(x), tf.constant(mask)).numpy(),
                               plain(x, mask=mask).numpy(), atol=1e-5)


def test_saves_and_loads_as_itself(tmp_path):
    fused, _ = pair()
    inputs = keras.Input((None, 5))
    model = keras.Model(inputs, fused(inputs, mask=keras.ops.ones((1, 1), "bool")))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    layer = next(lay for lay in loaded.layers if isinstance(lay, ContextBiLSTM))
    for a, b in zip(layer.get_weights(), fused.get_weights()):
        np.testing.assert_array_equal(a, b)
