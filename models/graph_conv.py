"""Relational graph convolution over dependency trees, as an edge list.

The original layer (keras_gcn_sequence_labelling) multiplies a dense adjacency
``(batch, relations, n, n)`` with ``H W_r`` for every relation. A dependency tree has
exactly one head per token, so the graph of a padded batch is fully described by two
``(batch, n)`` integer arrays, ``heads`` and ``rels``. From them we build a static-size
edge list (five edges per token at most) and compute

    out_i = act( combine_{edges e into i} w_e * (h_src(e) W_rel(e)) + b )

with a gather and a segment-sum. That costs O(edges) instead of O(relations * n^2), and
never materialises an n x n matrix.

Relations (``L`` = number of dependency labels):
  [0, L)           token <- its head, labelled by the token's dependency label
                   (ROOT points at itself, so it becomes a labelled self loop)
  L                token i <- token i-1                (consecutive_links)
  +offset          the same set reversed: head <- dependent, i <- i+1 (backward_links)
  last             token <- itself                      (self_links)
  +1, +2           token <- an earlier / a later repeat of its mention in the same
                   document (document_edges; the batch brings them as ``doc_src``,
                   see tasks/ner/batches.py), after everything above

Document edges are what a sentence-level tagger cannot see: "Clinton said" three
sentences after "Bill Clinton" (GraphIE, Qian et al. 2019). ``dependency_arcs=False``
drops the parser's arcs (head <-> dependent) and keeps the rest: the ablation that
measures them.

Options mirror the original, with its bugs fixed:
  combine="sum"   R-GCN (Schlichtkrull/Kipf): messages of all relations add up.
  combine="max"   the original: element-wise max over relations of the per-relation sum;
                  a relation with no edge into a node contributes 0, exactly as the
                  original's all-zero adjacency rows did.
  edge_weighting  one learned scalar per relation (initialised to 1) that scales every
                  edge of that relation: it weights edges, which the original did not.
  normalize       divide each message by the number of same-relation edges into its
                  node (R-GCN's c_{i,r}); the original's normalisation was a no-op.
  num_bases       0: one weight matrix per relation (the original). B > 0: R-GCN basis
                  decomposition W_r = sum_b a_rb V_b, which cuts the cost from R to B
                  matrix products per node.
  use_bias        one bias per output unit (the original had one per position).
  gates           edge gates (Marcheggiani & Titov 2017): each message is scaled by
                  sigmoid(h_src . v_rel + b_rel), so the layer can learn to ignore a
                  wrong parser arc or a spurious repeat, edge by edge.
Padded positions (mask False) send and receive nothing and output zeros.
"""
from __future__ import annotations

import keras
from keras import ops


def relation_count(num_dep_labels: int, self_links: bool, consecutive_links: bool, backward_links: bool,
                   document_edges: bool = False) -> int:
    forward = num_dep_labels + int(consecutive_links)
    return forward * (2 if backward_links else 1) + int(self_links) + 2 * int(document_edges)


def edge_list(heads, rels, mask, num_dep_labels: int, self_links: bool, consecutive_links: bool, backward_links: bool,
              doc_src=None, dependency_arcs: bool = True):
    """Flat ``(src, dst, rel, weight)`` arrays over the ``batch * n`` nodes of a batch;
    ``doc_src`` (batch, n, k) adds the document edges (flat source positions, -1: none).

    ``weight`` is 0.0 for edges that touch padding, so shapes stay static (jit-friendly).
    """
    batch, n = ops.shape(heads)[0], ops.shape(heads)[1]
    heads = ops.cast(heads, "int32")
    rels = ops.cast(rels, "int32")
    valid = ops.cast(mask, "float32")
    pos = ops.broadcast_to(ops.arange(n, dtype="int32")[None, :], (batch, n))
    base = ops.arange(batch, dtype="int32")[:, None] * n
    node = base + pos
    # A padded token may carry any head value; clip so the gather stays in bounds.
    head_node = base + ops.clip(heads, 0, n - 1)
    forward = num_dep_labels + int(consecutive_links)
    offset = forward if backward_links else 0
    zero = ops.zeros_like(valid)
    prev_valid = ops.concatenate([zero[:, :1], valid[:, :-1]], axis=1) * valid
    next_valid = ops.concatenate([valid[:, 1:], zero[:, :1]], axis=1) * valid

    arcs = valid if dependency_arcs else zero
    src, dst, rel, wt = [head_node], [node], [rels], [arcs]
    if consecutive_links:
        src.append(ops.maximum(node - 1, 0)); dst.append(node)
        rel.append(ops.full_like(rels, num_dep_labels)); wt.append(prev_valid)
    if backward_links:
        src.append(node); dst.append(head_node); rel.append(rels + offset); wt.append(arcs)
        if consecutive_links:
            src.append(ops.minimum(node + 1, batch * n - 1)); dst.append(node)
            rel.append(ops.full_like(rels, num_dep_labels + offset)); wt.append(next_valid)
    if self_links:
        src.append(node); dst.append(node)
        rel.append(ops.full_like(rels, relation_count(num_dep_labels, False, consecutive_links, backward_links)))
        wt.append(valid)
    if doc_src is not None:
        doc_src = ops.cast(doc_src, "int32")
        present = ops.cast(ops.greater_equal(doc_src, 0), "float32") * valid[..., None]
        doc_dst = ops.broadcast_to(node[..., None], ops.shape(doc_src))
        first = relation_count(num_dep_labels, self_links, consecutive_links, backward_links)
        src.append(ops.maximum(doc_src, 0)); dst.append(doc_dst); wt.append(present)
        rel.append(first + ops.cast(ops.greater(doc_src, doc_dst), "int32"))  # +0 earlier, +1 later
    flat = lambda xs: ops.concatenate([ops.reshape(x, (-1,)) for x in xs], axis=0)  # noqa: E731
    return flat(src), flat(dst), flat(rel), flat(wt)


@keras.saving.register_keras_serializable(package="gnn")
class GraphConvolution(keras.layers.Layer):
    """Inputs ``[h (B,n,d), heads (B,n), rels (B,n)]``, plus ``doc_src (B,n,k)`` when
    ``document_edges``, and ``mask`` (B,n) -> (B,n,units)."""

    def __init__(self, units: int, num_dep_labels: int, activation=None, self_links: bool = True,
                 consecutive_links: bool = True, backward_links: bool = True, edge_weighting: bool = False,
                 combine: str = "sum", normalize: bool = False, num_bases: int = 0, use_bias: bool = True,
                 document_edges: bool = False, dependency_arcs: bool = True, gates: bool = False,
                 kernel_initializer="glorot_uniform", kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if combine not in ("sum", "max"):
            raise ValueError(f"combine must be 'sum' or 'max', got {combine!r}")
        self.units, self.num_dep_labels = int(units), int(num_dep_labels)
        self.activation = keras.activations.get(activation)
        self.self_links, self.consecutive_links, self.backward_links = self_links, consecutive_links, backward_links
        self.edge_weighting, self.combine, self.normalize = edge_weighting, combine, normalize
        self.num_bases, self.use_bias = int(num_bases), use_bias
        self.document_edges, self.dependency_arcs, self.gates = document_edges, dependency_arcs, gates
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.num_relations = relation_count(num_dep_labels, self_links, consecutive_links, backward_links,
                                            document_edges)
        self.supports_masking = True

    def build(self, input_shape):
        d, R, u = int(input_shape[0][-1]), self.num_relations, self.units
        init, reg = self.kernel_initializer, self.kernel_regularizer
        if self.num_bases:
            self.bases = self.add_weight(name="bases", shape=(d, self.num_bases * u), initializer=init, regularizer=reg)
            self.coefficients = self.add_weight(name="coefficients", shape=(R, self.num_bases), initializer="glorot_uniform")
        else:
            # All relation matrices side by side: one (d, R*u) product per layer call.
            self.kernel = self.add_weight(name="kernel", shape=(d, R * u), initializer=init, regularizer=reg)
        if self.edge_weighting:
            self.edge_weights = self.add_weight(name="edge_weights", shape=(R,), initializer="ones")
        if self.gates:
            # Zero-initialised gates start every edge at sigmoid(0) = 0.5 (a uniform scale).
            self.gate_kernel = self.add_weight(name="gate_kernel", shape=(d, R), initializer="zeros")
            self.gate_bias = self.add_weight(name="gate_bias", shape=(R,), initializer="zeros")
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(u,), initializer="zeros")

    def call(self, inputs, mask=None):
        h, heads, rels = inputs[:3]
        doc_src = inputs[3] if self.document_edges else None
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        batch, n = ops.shape(h)[0], ops.shape(h)[1]
        if mask is None:
            mask = ops.ones((batch, n), dtype="bool")
        R, u = self.num_relations, self.units
        src, dst, rel, wt = edge_list(heads, rels, mask, self.num_dep_labels, self.self_links,
                                      self.consecutive_links, self.backward_links, doc_src, self.dependency_arcs)
        nodes = ops.reshape(h, (-1, ops.shape(h)[-1]))
        num_nodes = ops.shape(nodes)[0]
        if self.num_bases:
            hv = ops.reshape(ops.matmul(nodes, ops.cast(self.bases, nodes.dtype)), (-1, self.num_bases, u))
            coef = ops.take(ops.cast(self.coefficients, nodes.dtype), rel, axis=0)  # (E, B)
            msg = ops.einsum("ebu,eb->eu", ops.take(hv, src, axis=0), coef)
        else:
            hw = ops.reshape(ops.matmul(nodes, ops.cast(self.kernel, nodes.dtype)), (-1, u))  # (N*R, u)
            msg = ops.take(hw, src * R + rel, axis=0)
        scale = wt
        if self.edge_weighting:
            scale = scale * ops.take(self.edge_weights, rel, axis=0)
        if self.gates:
            logits = ops.reshape(ops.matmul(nodes, ops.cast(self.gate_kernel, nodes.dtype)), (-1,))  # (N*R,)
            gate = ops.sigmoid(ops.take(logits, src * R + rel) + ops.take(ops.cast(self.gate_bias, nodes.dtype), rel))
            scale = scale * ops.cast(gate, scale.dtype)
        group = dst * R + rel
        if self.normalize:
            counts = ops.segment_sum(wt, group, num_segments=num_nodes * R)
            scale = scale / ops.maximum(ops.take(counts, group, axis=0), 1.0)
        msg = msg * ops.cast(scale, msg.dtype)[:, None]
        if self.combine == "sum":
            out = ops.segment_sum(msg, dst, num_segments=num_nodes)
        else:
            per_relation = ops.segment_sum(msg, group, num_segments=num_nodes * R)
            out = ops.max(ops.reshape(per_relation, (-1, R, u)), axis=1)
        if self.use_bias:
            out = out + ops.cast(self.bias, out.dtype)
        out = self.activation(ops.reshape(out, (batch, n, u)))
        return out * ops.cast(mask, out.dtype)[..., None]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.units,)

    def compute_mask(self, inputs, mask=None):
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, num_dep_labels=self.num_dep_labels,
                      activation=keras.activations.serialize(self.activation), self_links=self.self_links,
                      consecutive_links=self.consecutive_links, backward_links=self.backward_links,
                      edge_weighting=self.edge_weighting, combine=self.combine, normalize=self.normalize,
                      num_bases=self.num_bases, use_bias=self.use_bias, document_edges=self.document_edges,
                      dependency_arcs=self.dependency_arcs, gates=self.gates,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer))
        return config
