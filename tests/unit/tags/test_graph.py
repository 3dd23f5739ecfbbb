"""Graph algorithms against brute force and networkx."""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from tasks.tags.graph import (Graph, components, degree_negatives, incidence, induced_subgraph, jaccard_projection,
                         neighbourhood_tree, random_walk_ends, rwr_sample, sample_neighbours, undirected)


def random_bipartite(seed, n_articles=40, n_lists=15):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 9, n_lists)
    a = np.concatenate([rng.choice(n_articles, s) for s in sizes])  # duplicates on purpose
    l = np.repeat(np.arange(n_lists), sizes)
    return a, l, n_articles, n_lists


def brute_force(a, l, n, cutoff, degree_cutoff, top_k, max_list_size):
    lists = {}
    for art, lst in zip(a, l):
        lists.setdefault(lst, set()).add(art)
    if max_list_size:
        lists = {k: v for k, v in lists.items() if len(v) <= max_list_size}
    of = {i: {k for k, v in lists.items() if i in v} for i in range(n)}
    out = {}
    for i in range(n):
        if len(of[i]) < degree_cutoff:
            continue
        scored = []
        for j in range(n):
            if j == i or len(of[j]) < degree_cutoff or not of[i] & of[j]:
                continue
            s = len(of[i] & of[j]) / len(of[i] | of[j])
            if s >= cutoff:
                scored.append((-s, j))
        for neg, j in sorted(scored)[:top_k]:
            out[(i, j)] = -neg
    return out


@pytest.mark.parametrize("seed, cutoff, degree_cutoff, top_k, max_list_size", [
    (0, 1e-42, 1, 2000, 0), (1, 0.3, 1, 2000, 0), (2, 1e-42, 2, 3, 0), (3, 0.2, 1, 1, 5), (4, 1e-42, 1, 4, 6)])
def test_jaccard_projection_equals_brute_force(seed, cutoff, degree_cutoff, top_k, max_list_size):
    a, l, n, m = random_bipartite(seed)
    S = jaccard_projection(incidence(a, l, n, m), cutoff, degree_cutoff, top_k, max_list_size).tocoo()
    got = {(int(i), int(j)): float(v) for i, j, v in zip(S.row, S.col, S.data)}
    want = brute_force(a, l, n, cutoff, degree_cutoff, top_k, max_list_size)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-6)


def random_graph(seed, n=60, p=0.05):
    g = nx.gnp_random_graph(n, p, seed=seed)
    adj = nx.to_scipy_sparse_array(g, nodelist=range(n), format="csr").astype(np.float32)
    return Graph(sp.csr_matrix(adj)), g


@pytest.mark.parametrize("seed", range(4))
def test_components_match_networkx(seed):
    g, ref = random_graph(seed)
    count, labels = components(g)
    assert count == nx.number_connected_components(ref)
    for comp in nx.connected_components(ref):
        assert len({labels[v] for v in comp}) == 1


def test_undirected_is_symmetric_union():
    S = sp.csr_matrix(np.array([[0, 0.5, 0], [0, 0, 0], [0.2, 0, 0]], np.float32))
    adj = undirected(S).adj.toarray()
    np.testing.assert_allclose(adj, adj.T)
    assert adj[1, 0] == 0.5 and adj[0, 2] == 0.2


def test_rwr_sample_ratio_determinism_and_induced_edges():
    g, ref = random_graph(0, n=200, p=0.04)
    nodes, starts = rwr_sample(g, 0.2, 0.1, seed=3)
    assert len(nodes) == 40
    again, _ = rwr_sample(g, 0.2, 0.1, seed=3)
    np.testing.assert_array_equal(nodes, again)
    assert not np.array_equal(nodes, rwr_sample(g, 0.2, 0.1, seed=4)[0])
    sub = induced_subgraph(g, nodes)
    want = ref.subgraph(nodes.tolist())
    assert sub.adj.nnz // 2 == want.number_of_edges()
    pos = {v: i for i, v in enumerate(nodes)}
    for u, v in want.edges():
        assert sub.adj[pos[u], pos[v]] > 0


def test_rwr_adds_start_nodes_when_stuck():
    # Ten disjoint triangles: one walk can only ever see 3 nodes.
    edges = [(3 * c + i, 3 * c + j) for c in range(10) for i, j in [(0, 1), (1, 2), (0, 2)]]
    ref = nx.Graph(edges)
    g = Graph(sp.csr_matrix(nx.to_scipy_sparse_array(ref, nodelist=range(30), format="csr")))
    nodes, starts = rwr_sample(g, 0.5, 0.1, seed=0, start_node=0, stall_steps=50)
    assert len(nodes) == 15 and starts > 1
    with pytest.raises(ValueError, match="not a node"):
        rwr_sample(g, 0.5, 0.1, seed=0, start_node=99)


def test_neighbour_sampler_returns_only_true_neighbours():
    g, ref = random_graph(1, n=80, p=0.08)
    rng = np.random.default_rng(0)
    nodes = np.arange(80)
    samples = sample_neighbours(g, nodes, 10, rng)
    assert samples.shape == (80, 10)
    for v in nodes:
        nbrs = set(ref.neighbors(v))
        assert set(samples[v]) <= (nbrs if nbrs else {v})
    tree = neighbourhood_tree(g, nodes[:5], [4, 3], rng)
    assert [t.shape for t in tree] == [(5,), (5, 4), (5, 4, 3)]
    ends = random_walk_ends(g, nodes, 3, rng)
    lengths = dict(nx.all_pairs_shortest_path_length(ref, cutoff=3))
    for v, e in zip(nodes, ends):
        assert e in lengths[v] or (e == v and ref.degree(v) == 0)


def test_degree_negatives_follow_degree_power():
    g, ref = random_graph(2, n=50, p=0.2)
    draws = degree_negatives(g, 200_000, np.random.default_rng(0))
    freq = np.bincount(draws, minlength=50) / 200_000
    p = g.degrees ** 0.75 / (g.degrees ** 0.75).sum()
    np.testing.assert_allclose(freq, p, atol=0.005)
