"""Label propagation and Correct & Smooth against dense matrix algebra and brute force;
and no validation or test tag reaches a spread matrix."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tasks.tags import label_methods as lm
from tasks.tags.propagation import row_normalised


def random_graph(n: int = 30, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.random((n, n)) * (rng.random((n, n)) < 0.2)
    dense = np.triu(dense, 1)
    dense = dense + dense.T
    dense[5] = dense[:, 5] = 0.0  # an isolated article
    return sp.csr_matrix(dense)


def dense_norm(adj: sp.csr_matrix) -> np.ndarray:
    d = adj.toarray()
    sums = d.sum(axis=1, keepdims=True)
    return np.divide(d, sums, out=np.zeros_like(d), where=sums > 0)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.9])
def test_spread_is_the_truncated_series(alpha):
    adj = random_graph()
    A, S = dense_norm(adj), np.random.default_rng(1).random((30, 4))
    steps = 7
    expected = sum((1 - alpha) * alpha ** k * np.linalg.matrix_power(A, k) @ S for k in range(steps))
    expected += alpha ** steps * np.linalg.matrix_power(A, steps) @ S
    got = lm.spread(row_normalised(adj), S, alpha, steps)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_spread_converges_to_the_closed_form():
    adj = random_graph()
    A, S = dense_norm(adj), np.random.default_rng(2).random((30, 3))
    closed = (1 - 0.8) * np.linalg.solve(np.eye(30) - 0.8 * A, S)
    np.testing.assert_allclose(lm.spread(row_normalised(adj), S, 0.8, 200), closed, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("steps", [0, 1, 7, lm.STEPS])
def test_one_series_gives_every_alpha_as_its_own_spread(steps):
    A, S = row_normalised(random_graph()), np.random.default_rng(7).random((30, 4))
    many = lm.spread_many(A, S, lm.ALPHAS, steps)
    assert list(many) == list(lm.ALPHAS)
    for alpha in lm.ALPHAS:
        np.testing.assert_allclose(many[alpha], lm.spread(A, S, alpha, steps) if steps else S, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="alpha must be in"):
        lm.spread_many(A, S, (0.5, 1.0))


def test_correct_and_smooth_is_correct_then_smooth_with_the_alphas_validation_picks():
    """The searched C&S equals the two halves run one α at a time, with the α's a brute-force
    search over those halves picks."""
    A, rng = row_normalised(random_graph()), np.random.default_rng(8)
    Z = rng.random((30, 3)).astype(np.float32)
    train = np.arange(0, 30, 3)
    Y = (rng.random((len(train), 3)) < 0.5).astype(np.float32)
    target = rng.random((30, 3))

    def closeness(F):
        return -float(np.abs(F - target).sum())

    chosen = lm.correct_and_smooth(A, Z, train, Y, closeness)
    a1 = max(lm.ALPHAS, key=lambda a: closeness(lm.correct(A, Z, train, Y, a)))
    a2 = max(lm.ALPHAS, key=lambda a: closeness(lm.smooth(A, lm.correct(A, Z, train, Y, a1), train, Y, a)))
    assert chosen.alphas == {"correct_alpha": a1, "smooth_alpha": a2}
    expected = lm.smooth(A, lm.correct(A, Z, train, Y, a1), train, Y, a2)
    np.testing.assert_allclose(chosen.scores, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(chosen.errors, lm.correction(A, Z, train, Y, a1)[0], rtol=1e-5, atol=1e-6)


def test_correct_and_smooth_against_dense_algebra():
    adj = random_graph()
    A, rng = row_normalised(adj), np.random.default_rng(3)
    Z = rng.random((30, 4)).astype(np.float32)
    train = np.array([0, 2, 3, 7, 11, 20])
    Y = (rng.random((len(train), 4)) < 0.4).astype(np.float32)
    D = dense_norm(adj)

    def series(start, alpha, steps=lm.STEPS):
        F = start.copy()
        for _ in range(steps):
            F = (1 - alpha) * start + alpha * D @ F
        return F

    E0 = np.zeros_like(Z)
    E0[train] = Y - Z[train]
    E = series(E0, 0.6)
    norm = np.abs(E).sum(axis=1, keepdims=True)
    sigma = np.abs(Y - Z[train]).sum(axis=1).mean()
    corrected = Z + sigma * np.divide(E, norm, out=np.zeros_like(E), where=norm > 0)
    np.testing.assert_allclose(lm.correct(A, Z, train, Y, 0.6), corrected, rtol=1e-4, atol=1e-5)
    G0 = corrected.copy()
    G0[train] = Y
    np.testing.assert_allclose(lm.smooth(A, corrected, train, Y, 0.3), series(G0, 0.3), rtol=1e-4, atol=1e-5)


def test_label_propagation_picks_the_best_validation_alpha():
    adj = random_graph()
    A, rng = row_normalised(adj), np.random.default_rng(4)
    train = np.arange(0, 30, 2)
    Y = (rng.random((len(train), 3)) < 0.5).astype(np.float32)
    target = rng.random((30, 3))

    def closeness(F):  # any validation score: here, closeness to an arbitrary target
        return -float(np.abs(F - target).sum())

    chosen = lm.label_propagation(A, train, Y, closeness)
    by_alpha = {a: closeness(lm.spread(A, lm.label_matrix(30, train, Y), a)) for a in lm.ALPHAS}
    assert chosen.alphas["alpha"] == max(by_alpha, key=by_alpha.get)


def test_a_new_article_gets_one_more_step_of_the_recurrence():
    """Appending an article that points at its neighbours (none point back) leaves the
    others unchanged; at convergence its row is what spread_to_new computes."""
    adj = random_graph(20).toarray()
    neighbours, weights = np.array([1, 4, 9]), np.array([0.5, 0.2, 0.3])
    grown = np.zeros((21, 21))
    grown[:20, :20] = adj
    grown[20, neighbours] = weights
    rng = np.random.default_rng(5)
    start = rng.random((21, 3))
    full = lm.spread(row_normalised(sp.csr_matrix(grown)), start, 0.7, 300)
    old = lm.spread(row_normalised(sp.csr_matrix(adj)), start[:20], 0.7, 300)
    np.testing.assert_allclose(full[:20], old, rtol=1e-4, atol=1e-5)
    new = lm.spread_to_new(old, start[20], neighbours, weights, 0.7)
    np.testing.assert_allclose(new, full[20], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(lm.spread_to_new(old, start[20], np.array([], int), np.array([]), 0.7),
                               0.3 * start[20], rtol=1e-6)


def test_no_validation_or_test_tag_reaches_a_spread_matrix():
    """A marker tag planted on the test rows only: label propagation's and C&S's scores
    on every validation row, and every choice, are exactly as without it."""
    from tasks.tags.label_aware import LABEL_AWARE, run_label_aware

    rng = np.random.default_rng(7)
    n, tags = 40, 3
    adj = row_normalised(random_graph(n, seed=8))
    rows = np.arange(n)
    split = {"train": np.arange(0, 24), "validation": np.arange(24, 32), "test": np.arange(32, 40)}
    Y = (rng.random((n, tags)) < 0.4).astype(int)
    Y[:, 0] = 1  # every article has a tag
    planted = Y.copy()
    planted[split["test"], 2] = 1 - planted[split["test"], 2]  # the marker: flipped on test rows only
    base = rng.random((n, tags)).astype(np.float32)  # a classifier's scores, for every <features>_cs

    def run(Y_all):
        part_rows, part_Y = {p: rows[i] for p, i in split.items()}, {p: Y_all[i] for p, i in split.items()}
        return {method: run_label_aware(method, adj, part_rows, part_Y,
                                        None if method == "label_propagation" else base).record
                for method in LABEL_AWARE}

    clean, marked = run(Y), run(planted)
    for method in clean:
        assert clean[method]["chosen"] == marked[method]["chosen"]
        clean_v = {k: v for k, v in clean[method]["validation"].items() if k != "seconds"}
        marked_v = {k: v for k, v in marked[method]["validation"].items() if k != "seconds"}
        assert clean_v == marked_v
    assert any(clean[m]["test"]["lrap"] != marked[m]["test"]["lrap"] for m in clean)  # the marker is scored


def test_reused_labels_match_brute_force_without_each_articles_own_tags():
    """Row i of [ÂY₀, Â²Y₀] computed densely with row i's own tags removed from Y₀, on a
    graph with self-loops and asymmetric weights (where the own-tag terms are non-zero)."""
    rng = np.random.default_rng(11)
    n, tags = 25, 4
    dense = rng.random((n, n)) * (rng.random((n, n)) < 0.3)
    np.fill_diagonal(dense, rng.random(n))
    A = dense_norm(sp.csr_matrix(dense))
    train = np.sort(rng.choice(n, 15, replace=False))
    Y_train = (rng.random((15, tags)) < 0.4).astype(int)
    got = lm.reused_labels(sp.csr_matrix(A), train, Y_train)
    Y0 = np.zeros((n, tags))
    Y0[train] = Y_train
    for i in range(n):
        without_own = Y0.copy()
        without_own[i] = 0.0
        expected = np.r_[(A @ without_own)[i], (A @ A @ without_own)[i]]
        np.testing.assert_allclose(got[i], expected, rtol=1e-5, atol=1e-6)
    assert np.abs(got).sum() > 0


def test_label_reuse_features_see_train_tags_only():
    """The label_reuse feature set of one split is the same whatever the validation and
    test rows' tags are, and changes with a train row's tags."""
    from tasks.tags.evaluation import TagData

    rng = np.random.default_rng(12)
    n, tags = 40, 3
    adj = row_normalised(random_graph(n, seed=13))
    order = rng.permutation(n)
    split = {"train": np.sort(order[:24]), "validation": np.sort(order[24:32]), "test": np.sort(order[32:])}
    Y = (rng.random((n, tags)) < 0.4).astype(int)

    def label_reuse(Y_all):
        data = TagData(None, np.ones((n, 2), np.float32), np.zeros((1, n, 2)), {}, adj,
                       np.zeros((n, 2)), 0.0, ["a", "b", "c"], np.arange(n), Y_all, np.array([], int))
        return data.feature_sets(0, split)["label_reuse"]

    planted = Y.copy()
    planted[order[24:]] = 1 - planted[order[24:]]  # every validation and test tag flipped
    np.testing.assert_array_equal(label_reuse(Y), label_reuse(planted))
    planted_train = Y.copy()
    planted_train[split["train"], 2] = 1 - planted_train[split["train"], 2]
    assert not np.array_equal(label_reuse(Y), label_reuse(planted_train))


def test_correct_and_smooth_of_a_new_article_matches_the_grown_graph():
    """C&S run on the graph grown by one untagged article (pointing at its neighbours)
    gives that article the scores correct_and_smooth_new computes from the old graph."""
    adj = random_graph(20, seed=9).toarray()
    neighbours, weights = np.array([2, 3, 11]), np.array([0.2, 0.5, 0.3])
    grown = np.zeros((21, 21))
    grown[:20, :20] = adj
    grown[20, neighbours] = weights
    rng = np.random.default_rng(10)
    Z = rng.random((21, 3)).astype(np.float32)
    train = np.array([0, 1, 2, 3, 6, 9, 12])
    Y = (rng.random((len(train), 3)) < 0.5).astype(np.float32)

    def any_score(F):
        return 0.0  # one α in the grid: nothing to choose

    full = lm.correct_and_smooth(row_normalised(sp.csr_matrix(grown)), Z, train, Y, any_score, alphas=(0.5,))
    old = lm.correct_and_smooth(row_normalised(sp.csr_matrix(adj)), Z[:20], train, Y, any_score, alphas=(0.5,))
    np.testing.assert_allclose(full.scores[:20], old.scores, rtol=1e-4, atol=1e-5)
    new = lm.correct_and_smooth_new(Z[20], old, neighbours, weights)
    np.testing.assert_allclose(new, full.scores[20], rtol=1e-4, atol=1e-5)
