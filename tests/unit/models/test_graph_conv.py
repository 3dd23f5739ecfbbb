"""The edge-list graph convolution: shapes, masking, and equality with the dense
reference (the original's formulation) on random dependency trees."""
import itertools

import keras
import numpy as np
import pytest

from models.graph_conv import GraphConvolution, compact_graph, graph_edges, pad_edges, pad_nodes, relation_count
from benchmarks.references import DenseGraphConvolution, dense_adjacency

L = 5  # dependency labels


def random_trees(rng, batch=4, n=9):
    lengths = rng.integers(1, n + 1, batch)
    lengths[0] = n
    heads = rng.integers(0, 50, (batch, n))  # garbage in padding on purpose
    rels = rng.integers(0, L, (batch, n))
    for b in range(batch):
        heads[b, :lengths[b]] = rng.integers(0, lengths[b], lengths[b])
    mask = np.arange(n)[None, :] < lengths[:, None]
    return heads, rels, lengths, mask


def edges_of(heads, rels, lengths, doc_src=None):
    """The batch's edge list as the batches give it, with padding rows (weight 0) at its end."""
    edges = graph_edges(heads, rels, lengths, doc_src)
    return pad_edges(edges, len(edges) + 7)


OPTIONS = list(itertools.product(["sum", "max"], [False, True], [False, True],
                                 [(True, True, True), (False, True, False), (True, False, True), (False, False, True)]))


@pytest.mark.parametrize("combine, normalize, edge_weighting, links", OPTIONS)
def test_edge_list_equals_dense_reference(combine, normalize, edge_weighting, links):
    rng = np.random.default_rng(hash((combine, normalize, edge_weighting, links)) % 2**32)
    heads, rels, lengths, mask = random_trees(rng)
    E = edges_of(heads, rels, lengths)
    h = rng.normal(size=(*heads.shape, 6)).astype("float32")
    self_links, consecutive, backward = links
    fast = GraphConvolution(7, L, activation="tanh", combine=combine, normalize=normalize,
                            edge_weighting=edge_weighting, self_links=self_links,
                            consecutive_links=consecutive, backward_links=backward)
    fast([h, E], mask=mask)
    weights = [rng.normal(size=w.shape).astype("float32") for w in fast.get_weights()]
    fast.set_weights(weights)
    R = relation_count(L, self_links, consecutive, backward)
    dense = DenseGraphConvolution(7, R, activation="tanh", combine=combine, normalize=normalize,
                                  edge_weighting=edge_weighting)
    A = dense_adjacency(heads, rels, lengths, L, self_links, consecutive, backward)
    dense([h, A])
    dense.set_weights(weights)
    got = np.asarray(fast([h, E], mask=mask))
    want = np.asarray(dense([h, A], mask=mask))
    assert np.abs(want[mask]).max() > 0.1  # the comparison is not between zeros
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_basis_decomposition_equals_full_weights():
    rng = np.random.default_rng(0)
    heads, rels, lengths, mask = random_trees(rng)
    E = edges_of(heads, rels, lengths)
    h = rng.normal(size=(*heads.shape, 6)).astype("float32")
    based = GraphConvolution(4, L, num_bases=3)
    based([h, E], mask=mask)
    V, a, bias = [rng.normal(size=w.shape).astype("float32") for w in based.get_weights()]
    based.set_weights([V, a, bias])
    full = GraphConvolution(4, L)
    full([h, E], mask=mask)
    R = full.num_relations
    W = np.einsum("rb,dbu->dru", a, V.reshape(6, 3, 4)).reshape(6, R * 4)  # W_r = sum_b a_rb V_b
    full.set_weights([W, bias])
    np.testing.assert_allclose(np.asarray(based([h, E], mask=mask)),
                               np.asarray(full([h, E], mask=mask)), atol=1e-4)


def test_padding_is_masked_and_inert():
    rng = np.random.default_rng(1)
    heads, rels, lengths, mask = random_trees(rng)
    E = edges_of(heads, rels, lengths)
    h = rng.normal(size=(*heads.shape, 6)).astype("float32")
    layer = GraphConvolution(5, L, activation="relu")
    out = np.asarray(layer([h, E], mask=mask))
    assert out.shape == (*heads.shape, 5)
    assert np.all(out[~mask] == 0)
    h2 = h.copy()
    h2[~mask] = 1e3  # changing padded features must not change real tokens
    out2 = np.asarray(layer([h2, E], mask=mask))
    np.testing.assert_allclose(out[mask], out2[mask], atol=1e-5)


def test_consecutive_links_are_real_neighbours():
    # One token sentence pair: with only consecutive forward links, token i sees i-1.
    h = np.arange(1, 5, dtype="float32").reshape(1, 4, 1)
    heads = np.array([[0, 1, 2, 3]])  # every token is its own head: dependency edges are self loops
    rels = np.zeros((1, 4), int)
    E = edges_of(heads, rels, [4])
    layer = GraphConvolution(1, 1, self_links=False, backward_links=False, use_bias=False)
    layer([h, E])
    R = layer.num_relations  # [dep label 0, consecutive]
    layer.set_weights([np.array([[0.0] + [1.0] * (R - 1)], "float32")])
    out = np.asarray(layer([h, E], mask=np.ones((1, 4), bool)))[0, :, 0]
    np.testing.assert_allclose(out, [0, 1, 2, 3])


def test_serialisation_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    heads, rels, lengths, mask = random_trees(rng)
    E = edges_of(heads, rels, lengths)
    h_in = keras.Input((None, 6))
    edges_in = keras.Input((4,), dtype="int32")
    out = GraphConvolution(3, L, edge_weighting=True, num_bases=2, combine="max")([h_in, edges_in])
    model = keras.Model([h_in, edges_in], out)
    h = rng.normal(size=(*heads.shape, 6)).astype("float32")
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(model([h, E])), np.asarray(again([h, E])), atol=1e-6)


def reference_layer(h, heads, rels, mask, doc_src, weights, normalize, dependency_arcs):
    """The gated relational convolution with document edges, written out over one dense
    (relations, N, N) adjacency of the batch's N = B * n nodes (document edges cross
    rows): out_i = relu(sum_r sum_j A_r[i, j] g_r(j) / c_r(i) h_j W_r + b)."""
    kernel, gate_kernel, gate_bias, bias = weights
    B, n, d = h.shape
    N, H = B * n, h.reshape(B * n, d)
    R = relation_count(L, True, True, True, document_edges=True)
    u = kernel.shape[1] // R
    forward, first_doc = L + 1, R - 2
    A = np.zeros((R, N, N))
    for b, i in zip(*np.nonzero(mask)):
        node, head, r = b * n + i, b * n + heads[b, i], rels[b, i]
        if dependency_arcs:
            A[r, node, head] += 1
            A[forward + r, head, node] += 1
        if i > 0:
            A[L, node, node - 1] = 1
            A[forward + L, node - 1, node] = 1
        A[R - 3, node, node] = 1
        for src in doc_src[b, i]:
            if src >= 0:
                A[first_doc + int(src > node), node, src] += 1
    gate = 1 / (1 + np.exp(-(H @ gate_kernel + gate_bias)))  # (N, R): gate of a message from j under r
    out = np.zeros((N, u))
    for r in range(R):
        Ar = A[r] * gate[:, r][None, :]
        if normalize:
            Ar = Ar / np.maximum(A[r].sum(1, keepdims=True), 1)
        out += Ar @ H @ kernel[:, r * u:(r + 1) * u]
    out = np.maximum(out + bias, 0).reshape(B, n, u)
    return out * mask[..., None]


@pytest.mark.parametrize("normalize, dependency_arcs, bases", [(False, True, 0), (True, True, 0), (True, False, 0),
                                                                (True, True, 3), (False, False, 2)])
def test_gated_layer_with_document_edges_equals_dense_reference(normalize, dependency_arcs, bases):
    rng = np.random.default_rng(int(normalize) * 2 + int(dependency_arcs) + 4 * bases)
    heads, rels, lengths, mask = random_trees(rng)
    B, n = heads.shape
    h = rng.normal(size=(B, n, 6)).astype("float32")
    valid = np.flatnonzero(mask.reshape(-1))
    doc_src = rng.choice(valid, (B, n, 3)).astype(np.int32)
    doc_src[rng.random(doc_src.shape) < 0.4] = -1
    layer = GraphConvolution(5, L, activation="relu", gates=True, document_edges=True, normalize=normalize,
                             dependency_arcs=dependency_arcs, num_bases=bases)
    layer([h, edges_of(heads, rels, lengths, doc_src)], mask=mask)
    weights = [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    got = np.asarray(layer([h, edges_of(heads, rels, lengths, doc_src)], mask=mask))
    if bases:  # the reference takes the relation matrices W_r = sum_b a_rb V_b side by side
        V, a, *rest = weights
        R = layer.num_relations
        weights = [np.einsum("rb,dbu->dru", a, V.reshape(6, bases, 5)).reshape(6, R * 5), *rest]
    want = reference_layer(h, heads, rels, mask, doc_src, weights, normalize, dependency_arcs)
    assert np.abs(want[mask]).max() > 0.1
    np.testing.assert_allclose(got, want, atol=1e-4)
    # the document edges matter: without them the output changes
    alone = np.asarray(layer([h, edges_of(heads, rels, lengths)], mask=mask))
    assert np.abs(alone - got).max() > 1e-3


def output_and_gradient(layer, h, graph, mask):
    """The layer's output on ``[h, *graph]`` and the gradients of sum(out^2) with respect
    to ``h`` and every weight."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(h)
        out = layer([h, *graph], mask=mask)
        loss = tf.reduce_sum(out * out)
    grads = tape.gradient(loss, [h, *layer.trainable_weights])
    return [np.asarray(out), *(np.asarray(tf.convert_to_tensor(g)) for g in grads)]


def random_layer(rng, h, graph, mask, **options):
    layer = GraphConvolution(5, L, activation="relu", **options)
    layer([h, *graph], mask=mask)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def test_padding_rows_of_the_edge_list_change_no_output_or_gradient():
    # Batches pad their edge lists to a few sizes (tasks/ner/batches.py: padded_edge_count):
    # the padding rows weigh exactly 0. Only the summation order may differ (TensorFlow's
    # scatter-add of the gradient, ~1e-7 relative), never a message.
    rng = np.random.default_rng(5)
    heads, rels, lengths, mask = random_trees(rng)
    h = keras.ops.convert_to_tensor(rng.normal(size=(*heads.shape, 6)).astype("float32"))
    edges = graph_edges(heads, rels, lengths)
    layer = random_layer(rng, h, [edges], mask, gates=True, normalize=True, num_bases=3, edge_weighting=True)
    exact = output_and_gradient(layer, h, [edges], mask)
    padded = output_and_gradient(layer, h, [pad_edges(edges, 4 * len(edges))], mask)
    assert np.abs(exact[0]).max() > 0.1
    for a, b in zip(exact, padded):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("combine, bases", [("sum", 3), ("max", 0)])
def test_real_tokens_only_equals_every_position(combine, bases):
    # The model feeds the layer its real tokens (compact_graph): same output and gradients
    # as over all B * n positions, with padded node entries (-1) inert.
    rng = np.random.default_rng(7)
    heads, rels, lengths, mask = random_trees(rng)
    B, n = heads.shape
    doc_src = rng.choice(np.flatnonzero(mask.reshape(-1)), (B, n, 2)).astype(np.int32)
    doc_src[(rng.random(doc_src.shape) < 0.5) | ~mask[..., None]] = -1
    h = keras.ops.convert_to_tensor(rng.normal(size=(B, n, 6)).astype("float32"))
    edges = graph_edges(heads, rels, lengths, doc_src)
    compact, nodes = compact_graph(edges, mask)
    assert len(nodes) == mask.sum() < mask.size  # the batch has padding to skip
    layer = random_layer(rng, h, [edges], mask, gates=True, normalize=True, num_bases=bases,
                         edge_weighting=True, document_edges=True, combine=combine)
    every = output_and_gradient(layer, h, [pad_edges(edges, len(edges) + 5)], mask)
    real = output_and_gradient(layer, h, [pad_edges(compact, len(edges) + 5), pad_nodes(nodes, len(nodes) + 4)],
                               mask)
    assert np.abs(every[0]).max() > 0.1
    for a, b in zip(every, real):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_compact_graph_renumbers_edges_to_real_tokens():
    heads, rels = np.array([[1, 1, 0], [0, 0, 0]]), np.zeros((2, 3), int)
    mask = np.array([[True, True, False], [True, False, False]])
    edges = graph_edges(heads, rels, [2, 1])
    compact, nodes = compact_graph(edges, mask)
    assert nodes.tolist() == [0, 1, 3]
    np.testing.assert_array_equal(nodes[compact[:, :2]], edges[:, :2])
    with pytest.raises(ValueError, match="padded position"):
        compact_graph(edges, np.array([[True, False, False], [True, False, False]]))
