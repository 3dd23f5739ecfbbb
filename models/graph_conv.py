"""Relational graph convolution over dependency trees, as an edge list.

The original layer (keras_gcn_sequence_labelling) multiplies a dense adjacency
``(batch, relations, n, n)`` with ``H W_r`` for every relation. A dependency tree has
exactly one head per token, so a batch's graph is a short edge list (five edges per
real token, plus its document edges), built in numpy with the batch (:func:`graph_edges`),
and the layer computes

    out_i = act( combine_{edges e into i} w_e * (h_src(e) W_rel(e)) + b )

with a gather and a segment-sum. That costs O(edges) instead of O(relations * n^2), and
never materialises an n x n matrix. The list holds real tokens' edges only: an earlier
in-graph version made five edges per *padded* position and six document slots per
position (1.2 % of them used), and spent 2.5x the epoch time of the model without a GCN.
The layer also computes over the real tokens only when given their flat positions
(``[h, edges, nodes]``, :func:`compact_graph`): a batch of whole documents pads to 2.6x
its tokens. And with basis-decomposed weights it mixes each token's messages once and
gathers ``units`` numbers per edge, not ``bases x units`` (:meth:`basis_messages`).
benchmarks/ner_step_revisions.py measured both against the code before them.

Relations (``L`` = number of dependency labels):
  [0, L)           token <- its head, labelled by the token's dependency label
                   (ROOT points at itself, so it becomes a labelled self loop)
  L                token i <- token i-1                (consecutive_links)
  +offset          the same set reversed: head <- dependent, i <- i+1 (backward_links)
  last             token <- itself                      (self_links)
  +1, +2           token <- an earlier / a later repeat of its mention in the same
                   document (document_edges; see tasks/ner/batches.py), after
                   everything above

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
import numpy as np
from keras import ops


def relation_count(num_dep_labels: int, self_links: bool, consecutive_links: bool, backward_links: bool,
                   document_edges: bool = False) -> int:
    forward = num_dep_labels + int(consecutive_links)
    return forward * (2 if backward_links else 1) + int(self_links) + 2 * int(document_edges)


# What a batch's graph says about each edge; the layer maps a kind to its relation (or
# drops it), so one edge list serves layers with different link options.
ARC, ARC_BACK, PREV, NEXT, SELF, DOC_EARLIER, DOC_LATER, NO_EDGE = range(8)
EDGE_COLUMNS = 4  # src, dst, kind, dependency label (0 where the kind has none)
# The per-token message table of a basis-decomposed layer (GraphConvolution.basis_messages):
# slot 0 the arc into the token, 1 the arc out of it, then one per unlabelled kind.
UNLABELLED = (PREV, NEXT, SELF, DOC_EARLIER, DOC_LATER)
SLOTS = 2 + len(UNLABELLED)
SLOT_OF_KIND = np.asarray([0, 1, 2, 3, 4, 5, 6, 0], np.int32)  # by kind: ARC, ARC_BACK, *UNLABELLED, NO_EDGE


def graph_edges(heads: np.ndarray, rels: np.ndarray, lengths, doc_src: np.ndarray | None = None) -> np.ndarray:
    """(E, 4) int32 edges ``(src, dst, kind, label)`` between the flat positions
    ``row * n + token`` of a padded batch ``heads``/``rels`` (B, n): of its real tokens
    only, so the layer's work follows the tokens, not the padding (document batches pad
    to 2.6x their tokens). ``doc_src`` (B, n, k): document edges (flat sources, -1 none)."""
    n = heads.shape[1]
    lengths = np.asarray(lengths, np.int64)
    row = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.arange(len(row)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    node, head, label = row * n + pos, row * n + heads[row, pos], rels[row, pos]
    has_prev, has_next = pos > 0, pos < lengths[row] - 1
    parts = [(head, node, ARC, label), (node, head, ARC_BACK, label),
             (node[has_prev] - 1, node[has_prev], PREV, 0), (node[has_next] + 1, node[has_next], NEXT, 0),
             (node, node, SELF, 0)]
    if doc_src is not None:
        r, t, j = np.nonzero(doc_src >= 0)
        src, dst = doc_src[r, t, j].astype(np.int64), r * n + t
        parts.append((src, dst, np.where(src > dst, DOC_LATER, DOC_EARLIER), 0))
    columns = [np.concatenate([np.broadcast_to(np.asarray(p[c]), p[0].shape) for p in parts]) for c in range(4)]
    return np.stack(columns, axis=1).astype(np.int32)


def compact_graph(edges: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``edges`` renumbered from flat positions to token numbers, and ``nodes`` (T,): the
    flat position of each real token (``mask`` (B, n) True), in flat order. The layer fed
    ``[h, edges, nodes]`` computes over the T tokens instead of all B * n positions."""
    nodes = np.flatnonzero(np.asarray(mask).reshape(-1)).astype(np.int32)
    number = np.full(np.asarray(mask).size, -1, np.int32)
    number[nodes] = np.arange(len(nodes), dtype=np.int32)
    compact = edges.copy()
    compact[:, :2] = number[edges[:, :2]]
    if (compact[:, :2] < 0).any():
        raise ValueError("an edge touches a padded position")
    return compact, nodes


def pad_nodes(nodes: np.ndarray, size: int) -> np.ndarray:
    """``nodes`` followed by -1 (no token: gathers row 0, contributes nothing) up to ``size``."""
    return np.concatenate([nodes, np.full(max(0, size - len(nodes)), -1, np.int32)])


def gather_tokens(flat, positions):
    """The rows of ``flat`` (B * n, ...) at the flat ``positions`` of a batch's real
    tokens; a padding entry (-1) reads row 0."""
    return ops.take(flat, ops.maximum(positions, 0), axis=0)


def scatter_tokens(values, positions, size: int):
    """The inverse of :func:`gather_tokens`: ``values`` (T, ...) placed at their flat
    ``positions`` in ``size`` rows of zeros; a padding entry (-1) adds zeros to row 0."""
    valid = ops.cast(ops.greater_equal(positions, 0), values.dtype)[:, None]
    return ops.segment_sum(values * valid, ops.maximum(positions, 0), num_segments=size)


def pad_edges(edges: np.ndarray, size: int) -> np.ndarray:
    """``edges`` followed by ``NO_EDGE`` rows (weight 0) up to ``size`` rows."""
    padding = np.zeros((max(0, size - len(edges)), EDGE_COLUMNS), np.int32)
    padding[:, 2] = NO_EDGE
    return np.concatenate([edges, padding])


@keras.saving.register_keras_serializable(package="gnn")
class GraphConvolution(keras.layers.Layer):
    """Inputs ``[h (B,n,d), edges (E,4)]`` (:func:`graph_edges` of the batch: every
    position is a node) or ``[h, edges, nodes (T,)]`` (:func:`compact_graph`: the edges
    number the real tokens whose flat positions ``nodes`` lists, -1 padding), and
    ``mask`` (B,n) -> (B,n,units). Both give the same output; the second computes over
    the real tokens only."""

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

    def relation_of_kind(self) -> tuple[list[int], list[int], list[int]]:
        """Per edge kind: its first relation, whether the dependency label is added, and
        whether this layer uses the kind at all (a disabled kind weighs 0)."""
        L, c, b, s = self.num_dep_labels, self.consecutive_links, self.backward_links, self.self_links
        offset = L + int(c) if b else 0
        doc = relation_count(L, s, c, b)
        arcs = self.dependency_arcs
        table = {ARC: (0, 1, arcs), ARC_BACK: (offset, 1, b and arcs), PREV: (L, 0, c), NEXT: (L + offset, 0, c and b),
                 SELF: (relation_count(L, False, c, b), 0, s), DOC_EARLIER: (doc, 0, self.document_edges),
                 DOC_LATER: (doc + 1, 0, self.document_edges), NO_EDGE: (0, 0, False)}
        first, labelled, used = zip(*(table[k] for k in range(NO_EDGE + 1)))
        return list(first), list(labelled), [int(u) for u in used]

    def typed_edges(self, edges):
        """(src, dst, kind, rel, weight) of the batch's edge list for this layer's relations."""
        edges = ops.cast(edges, "int32")
        src, dst, kind, label = (edges[:, c] for c in range(EDGE_COLUMNS))
        first, labelled, used = (ops.convert_to_tensor(np.asarray(t, np.int32)) for t in self.relation_of_kind())
        on = ops.take(used, kind)
        rel = on * (ops.take(first, kind) + ops.take(labelled, kind) * label)  # a disabled edge: relation 0, weight 0
        return src, dst, kind, rel, ops.cast(on, "float32")

    def basis_messages(self, nodes, src, dst, kind, rel):
        """(E, units): each edge's message ``h_src W_rel``, ``W_rel = sum_b a_rb V_b``.

        Mixing the B basis products per edge gathers B * units numbers per edge (five
        edges and more per token). But a token's relation on an edge is fixed by the
        edge's kind and one label: an arc's label is its dependent's, and every token has
        exactly one arc to its head (graph_edges). So the messages are mixed once per
        token into a table of ``SLOTS`` rows (the arc *into* it from its head, the arc
        *out of* it to its head, and one per unlabelled kind), and each edge gathers one
        row of ``units`` numbers: the arc into a token by its destination, every other
        kind by its source."""
        num_nodes, u = ops.shape(nodes)[0], self.units
        first, _, used = (np.asarray(t, np.int32) for t in self.relation_of_kind())
        first = first * used  # a disabled kind (weight 0) may name no relation of this layer
        hv = ops.reshape(ops.matmul(nodes, ops.cast(self.bases, nodes.dtype)), (-1, self.num_bases, u))
        coef = ops.cast(self.coefficients, nodes.dtype)
        is_arc = ops.cast(ops.equal(kind, ARC), "int32")
        head = ops.segment_sum(src * is_arc, dst, num_segments=num_nodes)  # each token's head
        arc = ops.segment_sum(rel * is_arc, dst, num_segments=num_nodes)  # the relation of its head arc
        back = arc + int(first[ARC_BACK] - first[ARC])  # the same label, read backwards
        into = ops.einsum("nbu,nb->nu", ops.take(hv, head, axis=0), ops.take(coef, arc, axis=0))
        out = ops.einsum("nbu,nb->nu", hv, ops.take(coef, back, axis=0))
        fixed = ops.einsum("nbu,sb->nsu", hv, ops.take(coef, first[list(UNLABELLED)], axis=0))
        table = ops.reshape(ops.concatenate([into[:, None], out[:, None], fixed], axis=1), (-1, u))
        slot = ops.take(ops.convert_to_tensor(SLOT_OF_KIND), kind)
        row = ops.where(ops.equal(kind, ARC), dst, src) * SLOTS + slot
        return ops.take(table, row, axis=0)

    def call(self, inputs, mask=None):
        h, edges = inputs[:2]
        positions = inputs[2] if len(inputs) > 2 else None
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        batch, n = ops.shape(h)[0], ops.shape(h)[1]
        if mask is None:
            mask = ops.ones((batch, n), dtype="bool")
        src, dst, kind, rel, wt = self.typed_edges(edges)
        nodes = ops.reshape(h, (-1, ops.shape(h)[-1]))
        if positions is not None:
            positions = ops.cast(positions, "int32")
            nodes = gather_tokens(nodes, positions)
        out = self.activation(self.propagate(nodes, src, dst, kind, rel, wt))
        if positions is not None:
            out = scatter_tokens(out, positions, batch * n)
        out = ops.reshape(out, (batch, n, self.units))
        return out * ops.cast(mask, out.dtype)[..., None]

    def propagate(self, nodes, src, dst, kind, rel, wt):
        """Sum of the weighted messages into each of ``nodes`` (N, d), plus the bias: (N, units)."""
        R, u = self.num_relations, self.units
        num_nodes = ops.shape(nodes)[0]
        if self.num_bases:
            msg = self.basis_messages(nodes, src, dst, kind, rel)
        else:
            hw = ops.reshape(ops.matmul(nodes, ops.cast(self.kernel, nodes.dtype)), (-1, u))  # (N*R, u)
            msg = ops.take(hw, src * R + rel, axis=0)
        scale = wt
        if self.edge_weighting:
            # scale stays float32: under mixed precision Keras hands the layer its weights in half
            scale = scale * ops.take(ops.cast(self.edge_weights, scale.dtype), rel, axis=0)
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
        return out

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
