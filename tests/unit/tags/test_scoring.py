"""The scoring of tags methods: the thresholded decision rule against brute force, LRAP
against scikit-learn's, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, label_ranking_average_precision_score

from tasks.tags import scoring


def test_best_thresholds_match_brute_force():
    rng = np.random.default_rng(6)
    Y = (rng.random((60, 5)) < 0.3).astype(int)
    Y[:, 4] = 0  # a tag with no positive: never predicted
    scores = np.round(rng.random((60, 5)) + 0.3 * Y, 2)  # ties on purpose
    thresholds = scoring.best_thresholds(Y, scores)
    assert np.isinf(thresholds[4])
    for j in range(4):
        best = max(f1_score(Y[:, j], scores[:, j] >= t, zero_division=0) for t in np.unique(scores[:, j]))
        assert f1_score(Y[:, j], scores[:, j] >= thresholds[j], zero_division=0) == pytest.approx(best)


def test_thresholded_scores_apply_the_thresholds():
    Y = np.array([[1, 0], [0, 1], [1, 1]])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    out = scoring.thresholded_scores(Y, scores, np.array([0.5, 0.5]))
    predicted = np.array([[1, 0], [0, 1], [1, 0]])
    assert out["macro_f1_thresholded"] == pytest.approx(f1_score(Y, predicted, average="macro"))
    assert out["mean_predicted_tags_thresholded"] == pytest.approx(1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lrap_is_scikit_learns_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    Y = (rng.random((700, 16)) < 0.25).astype(int)
    Y[:5] = 0                 # rows with no tag: 1 by definition
    Y[5:10] = 1               # rows with every tag: 1 by definition
    Y[100:300] = rng.random((200, 16)) < 0.7  # rows with 8+ tags: numpy's pairwise mean, not a running sum
    scores = np.round(rng.random(Y.shape), 1).astype(dtype)  # ties everywhere
    scores[20:30] = 0.5       # rows of one score
    assert scoring.lrap(Y, scores) == label_ranking_average_precision_score(Y, scores)
    rows = np.arange(30, 300)
    assert scoring.lrap(Y[rows], scores[rows]) == label_ranking_average_precision_score(Y[rows], scores[rows])
    for row in range(100, 160):  # one row alone: its mean is the result, last bits included
        one = slice(row, row + 1)
        assert scoring.lrap(Y[one], scores[one]) == label_ranking_average_precision_score(Y[one], scores[one])


def test_lrap_by_hand_and_its_errors():
    # Row 1: relevant tags 0 (rank 1 of 1) and 2 (rank 3: tags 0, 1, 2 score ≥ it; 2 of them
    # relevant): (1/1 + 2/3) / 2. Row 2: its one relevant tag ties with another: rank 2, 1/2.
    Y = np.array([[1, 0, 1], [0, 1, 0]])
    scores = np.array([[0.9, 0.5, 0.1], [0.3, 0.3, 0.2]])
    assert scoring.lrap(Y, scores) == pytest.approx(((1 + 2 / 3) / 2 + 1 / 2) / 2)
    with pytest.raises(ValueError, match="one shape"):
        scoring.lrap(Y, scores[:, :2])
    with pytest.raises(ValueError, match="finite"):
        scoring.lrap(Y, np.where(scores > 0.8, np.nan, scores))
    with pytest.raises(ValueError, match="no rows"):
        scoring.lrap(Y[:0], scores[:0])
