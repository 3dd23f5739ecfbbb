"""The propagation baseline equals dense matrix algebra, and a new article's features
equal those it gets as one more row of the graph."""
import numpy as np
import pytest
import scipy.sparse as sp

from tasks.tags.propagation import propagate, propagate_new, propagation_hops


def random_graph(seed, n=30, density=0.15):
    rng = np.random.default_rng(seed)
    w = rng.random((n, n)) * (rng.random((n, n)) < density)
    w = np.triu(w, 1)
    w = w + w.T
    w[3, :] = w[:, 3] = 0  # an isolated node
    return w, rng.normal(size=(n, 4))


@pytest.mark.parametrize("seed", range(3))
def test_propagation_matches_dense_reference(seed):
    w, x = random_graph(seed)
    rows = w.sum(1, keepdims=True)
    a = np.divide(w, rows, out=np.zeros_like(w), where=rows > 0)
    want = np.hstack([x, a @ x, a @ a @ x, a @ a @ a @ x])
    np.testing.assert_allclose(propagate(sp.csr_matrix(w), x, 3), want, rtol=1e-5, atol=1e-6)
    assert not propagate(sp.csr_matrix(w), x, 2)[3, 4:].any()  # isolated: zero hops


def test_new_article_matches_its_row_in_a_bigger_graph():
    w, x = random_graph(7)
    n = len(w)
    nbrs, weights = np.array([0, 5, 9]), np.array([0.5, 0.25, 1.0])
    bigger = np.zeros((n + 1, n + 1))
    bigger[:n, :n] = w
    bigger[n, nbrs] = weights  # only the new row: existing articles keep their neighbours
    x_new = np.random.default_rng(1).normal(size=4)
    want = propagate(sp.csr_matrix(bigger), np.vstack([x, x_new]), 2)[n]
    got = propagate_new(propagation_hops(sp.csr_matrix(w), x, 2), x_new, nbrs, weights)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    alone = propagate_new(propagation_hops(sp.csr_matrix(w), x, 2), x_new, np.zeros(0, int), np.zeros(0))
    np.testing.assert_allclose(alone, np.concatenate([x_new, np.zeros(8)]), atol=1e-6)
