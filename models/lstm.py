"""The tagger's context layer: a masked bidirectional LSTM that, under TensorFlow, runs as
TensorFlow's fused LSTM kernel over rows grouped by length.

Why: Keras runs an LSTM as a loop of small ops per time step, and on the 2-core CPU a
document batch (32 sentence rows padded to its longest sentence: 2.6x its tokens) costs
that way what a fused kernel needs for all of it. TensorFlow's ``BlockLSTM`` runs the
whole sequence in one kernel, whose time then follows rows x steps. So the fused path
sorts the rows by length, cuts them into :data:`GROUPS` groups and runs each group only
as far as its longest row: CoNLL-2003's document batches compute 2.05x fewer row-steps
(empty padding rows and the ladder's padded steps cost nothing); the training step is
1.10x faster (benchmarks/ner_step_revisions.py, docs/benchmarks.md). The result is the same
function as ``layers.Bidirectional(layers.LSTM(units, return_sequences=True))`` with the
same weights (outputs and gradients checked against it in tests/unit/models/test_lstm.py):
each row is still its own sequence, the backward direction reads each row's real tokens
from its last one, and masked positions give zeros. Other backends (JAX), XLA-compiled
functions (Keras' default with a GPU) and mixed precision take Keras' own path.

``BlockLSTM`` (version 1) is used rather than ``BlockLSTMV2``: TensorFlow registers the
version-1 gradient for both, and version 2 orders its gates as Keras does (i, f, c, o)
where the version-1 gradient assumes (i, c, f, o), so V2's gradients come out wrong.
Version 1 with ``forget_bias=0`` and the gates reordered is Keras' cell exactly.
"""
from __future__ import annotations

import keras
from keras import layers

GROUPS = 3  # length groups per batch: 2.05x fewer row-steps on CoNLL-2003 (2 groups: 1.81x, 4: 2.20x)


@keras.saving.register_keras_serializable(package="gnn")
class ContextBiLSTM(layers.Bidirectional):
    """``Bidirectional(LSTM(units, return_sequences=True))``, concatenated, called with a
    mask; the fused TensorFlow path when it computes the same function."""

    def __init__(self, layer=None, units: int | None = None, **kwargs):
        if layer is None:
            layer = layers.LSTM(units, return_sequences=True)
        super().__init__(layer, **kwargs)

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if not _fused_applies(self, initial_state, mask):
            return super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        return _fused_bidirectional(sequences, mask, self.forward_layer.cell, self.backward_layer.cell)


def _fused_applies(layer: ContextBiLSTM, initial_state, mask) -> bool:
    cells = (layer.forward_layer.cell, layer.backward_layer.cell)
    return (keras.backend.backend() == "tensorflow" and not _in_xla() and mask is not None and initial_state is None
            and layer.merge_mode == "concat" and layer.compute_dtype == "float32"
            and all(c.dropout == 0 and c.recurrent_dropout == 0 and c.use_bias for c in cells)
            and all(c.activation is keras.activations.tanh and c.recurrent_activation is keras.activations.sigmoid
                    for c in cells))


def _in_xla() -> bool:
    """Whether TensorFlow is tracing for XLA (``jit_compile``: Keras' default with a GPU,
    or a model compiled under JAX and loaded here): XLA has no BlockLSTM kernel."""
    from tensorflow.python.framework import ops as tf_ops
    from tensorflow.python.ops import control_flow_util

    return control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph())


def _block_lstm(x_time_major, steps, cell):
    """One direction over (T, B, d) for the first ``steps`` steps: (T, B, units), zeros after."""
    import tensorflow as tf

    units = cell.units
    w = tf.concat([cell.kernel, cell.recurrent_kernel], axis=0)
    # Keras orders the gates (i, f, c, o); BlockLSTM (i, c, f, o).
    reorder = lambda t, axis: tf.concat([tf.split(t, 4, axis=axis)[k] for k in (0, 2, 1, 3)], axis=axis)  # noqa: E731
    zeros = tf.zeros((tf.shape(x_time_major)[1], units), x_time_major.dtype)
    peephole = tf.zeros((units,), x_time_major.dtype)
    out = tf.raw_ops.BlockLSTM(seq_len_max=tf.cast(steps, tf.int64), x=x_time_major, cs_prev=zeros,
                               h_prev=zeros, w=reorder(w, 1), wci=peephole, wcf=peephole, wco=peephole,
                               b=reorder(cell.bias, 0), forget_bias=0.0, cell_clip=-1.0, use_peephole=False)
    return out[6]  # h


def _fused_bidirectional(x, mask, forward_cell, backward_cell):
    """(B, T, d) with mask (B, T) -> (B, T, 2 * units): rows in :data:`GROUPS` length
    groups, each direction one fused kernel call per group."""
    import tensorflow as tf

    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    order = tf.argsort(lengths, direction="DESCENDING", stable=True)
    rows = tf.shape(x)[0]
    outputs = []
    for g in range(GROUPS):
        group = order[g * rows // GROUPS:(g + 1) * rows // GROUPS]
        group_lengths = tf.gather(lengths, group)
        steps = tf.reduce_max(tf.concat([group_lengths, [0]], axis=0))  # its longest row; 0 for no row
        xs = tf.transpose(tf.gather(x, group)[:, :steps], (1, 0, 2))  # (steps, rows of the group, d)
        forward = _block_lstm(xs, steps, forward_cell)
        # Each row read from its last real token back: reverse the real part of every row.
        reverse = lambda t: tf.reverse_sequence(t, group_lengths, seq_axis=0, batch_axis=1)  # noqa: E731
        backward = reverse(_block_lstm(reverse(xs), steps, backward_cell))
        outputs.append(tf.transpose(tf.concat([forward, backward], axis=-1), (1, 0, 2)))
    # Back to the batch's row order and length; masked positions are zeros, as in Keras.
    stacked = tf.concat([tf.pad(o, [[0, 0], [0, tf.shape(x)[1] - tf.shape(o)[1]], [0, 0]]) for o in outputs], 0)
    restored = tf.gather(stacked, tf.argsort(order, stable=True))
    return restored * tf.cast(mask, restored.dtype)[..., None]
