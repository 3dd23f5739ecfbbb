"""Dense reference for the graph convolution, with the original's formulation.

``dense_adjacency`` builds the ``(batch, relations, n, n)`` tensor the original code fed
to its layer, written independently of ``graph_conv.edge_list`` (plain loops), and
``DenseGraphConvolution`` computes ``combine_r A_r (H W_r)`` with the same weight layout
as :class:`models.graph_conv.GraphConvolution`. Tests check the two agree; the speed
benchmark measures how much the edge list saves.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from models.graph_conv import relation_count


def dense_adjacency(heads: np.ndarray, rels: np.ndarray, lengths: np.ndarray, num_dep_labels: int,
                    self_links: bool = True, consecutive_links: bool = True, backward_links: bool = True) -> np.ndarray:
    """``A[b, r, i, j] = 1`` when token i receives a message from token j under relation r."""
    batch, n = heads.shape
    R = relation_count(num_dep_labels, self_links, consecutive_links, backward_links)
    forward = num_dep_labels + int(consecutive_links)
    A = np.zeros((batch, R, n, n), np.float32)
    for b in range(batch):
        for i in range(int(lengths[b])):
            h, r = int(heads[b, i]), int(rels[b, i])
            A[b, r, i, h] += 1.0                       # token <- head
            if backward_links:
                A[b, forward + r, h, i] += 1.0         # head <- token
            if consecutive_links and i > 0:
                A[b, num_dep_labels, i, i - 1] = 1.0   # i <- i-1
                if backward_links:
                    A[b, forward + num_dep_labels, i - 1, i] = 1.0  # i-1 <- i
            if self_links:
                A[b, R - 1, i, i] = 1.0
    return A


@keras.saving.register_keras_serializable(package="gnn")
class DenseGraphConvolution(keras.layers.Layer):
    """Inputs ``[h (B,n,d), A (B,R,n,n)]``; full per-relation weights only."""

    def __init__(self, units: int, num_relations: int, activation=None, combine: str = "sum",
                 normalize: bool = False, edge_weighting: bool = False, use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.units, self.num_relations = units, num_relations
        self.activation = keras.activations.get(activation)
        self.combine, self.normalize, self.edge_weighting, self.use_bias = combine, normalize, edge_weighting, use_bias
        self.supports_masking = True

    def build(self, input_shape):
        d, R, u = int(input_shape[0][-1]), self.num_relations, self.units
        self.kernel = self.add_weight(name="kernel", shape=(d, R * u), initializer="glorot_uniform")
        if self.edge_weighting:
            self.edge_weights = self.add_weight(name="edge_weights", shape=(R,), initializer="ones")
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(u,), initializer="zeros")

    def call(self, inputs, mask=None):
        h, A = inputs
        R, u = self.num_relations, self.units
        W = ops.reshape(self.kernel, (-1, R, u))
        hw = ops.einsum("bnd,dru->brnu", h, W)
        if self.normalize:
            A = A / ops.maximum(ops.sum(A, axis=-1, keepdims=True), 1.0)
        if self.edge_weighting:
            A = A * self.edge_weights[None, :, None, None]
        per_relation = ops.einsum("brij,brju->briu", A, hw)
        out = ops.sum(per_relation, axis=1) if self.combine == "sum" else ops.max(per_relation, axis=1)
        if self.use_bias:
            out = out + self.bias
        out = self.activation(out)
        if mask is not None:
            m = mask[0] if isinstance(mask, (list, tuple)) else mask
            if m is not None:
                out = out * ops.cast(m, out.dtype)[..., None]
        return out
