"""Tag metrics follow the original's definitions; the shared split is seeded."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_score

from tasks.tags.classification import scores, shared_split, target_tags


def random_labels(seed, n=200, k=6):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) < 0.3).astype(int)
    p = np.where(rng.random((n, k)) < 0.7, y, 1 - y)
    p[:, -1] = 0  # a tag never predicted: zero_division=0
    return y, p


@pytest.mark.parametrize("seed", range(3))
def test_precisions_are_the_originals_definitions(seed):
    y, p = random_labels(seed)
    s = scores(y, p)
    per_tag = [(y[:, j] & p[:, j]).sum() / p[:, j].sum() if p[:, j].sum() else 0.0 for j in range(y.shape[1])]
    support = y.sum(0)
    assert s["macro_precision"] == pytest.approx(np.mean(per_tag))
    assert s["weighted_precision"] == pytest.approx(np.dot(per_tag, support) / support.sum())
    assert s["accuracy"] == pytest.approx(np.mean((y == p).all(1)))
    assert s["micro_f1"] == pytest.approx(2 * (y & p).sum() / (y.sum() + p.sum()))
    assert s["mean_predicted_tags"] == pytest.approx(p.sum(1).mean())
    assert s["macro_precision"] == pytest.approx(precision_score(y, p, average="macro", zero_division=0))


def test_target_tags_are_strictly_more_than_min_count():
    tags = pd.Series([["a", "b"], ["a"], ["a", "c"], ["b"]])
    assert target_tags(tags, 1) == ["a", "b"]
    assert target_tags(tags, 2) == ["a"]


def test_shared_split_is_seeded_disjoint_and_complete():
    y, _ = random_labels(0, n=300)
    train, test = shared_split(y, 0.2, seed=5)
    again = shared_split(y, 0.2, seed=5)
    np.testing.assert_array_equal(train, again[0])
    np.testing.assert_array_equal(test, again[1])
    assert not set(train) & set(test) and sorted(np.concatenate([train, test])) == list(range(300))
    assert 0.15 < len(test) / 300 < 0.25
    other = shared_split(y, 0.2, seed=6)
    assert not np.array_equal(test, other[1])
