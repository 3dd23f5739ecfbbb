"""Tag metrics follow the original's definitions; the shared split is seeded."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_score

from tasks.tags.classification import scores, shared_split, summarise, target_tags, three_way_split


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


def test_three_way_split_is_deterministic_disjoint_and_complete():
    y, _ = random_labels(1, n=400)
    train, validation, test = three_way_split(y, 0.2, 0.1, seed=3)
    again = three_way_split(y, 0.2, 0.1, seed=3)
    for a, b in zip((train, validation, test), again):
        np.testing.assert_array_equal(a, b)
    assert not (set(train) & set(validation) or set(train) & set(test) or set(validation) & set(test))
    assert sorted(np.concatenate([train, validation, test])) == list(range(400))
    assert 0.15 < len(test) / 400 < 0.25 and 0.06 < len(validation) / 400 < 0.14
    assert not np.array_equal(validation, three_way_split(y, 0.2, 0.1, seed=4)[1])


def test_ranking_metrics_against_brute_force():
    """LRAP: per article, the mean over its true tags of (true tags ranked at or above it)
    / (tags ranked at or above it); precision@1: is the top-scored tag a true one."""
    y, p = random_labels(2, n=50)
    proba = np.random.default_rng(3).random(y.shape)
    y[y.sum(1) == 0, 0] = 1
    s = scores(y, p, proba)
    per_article = []
    for truth, score in zip(y, proba):
        ranks = [(score >= score[j]).sum() for j in range(len(score))]
        per_article.append(np.mean([sum(truth[k] and score[k] >= score[j] for k in range(len(score))) / ranks[j]
                                    for j in np.flatnonzero(truth)]))
    assert s["lrap"] == pytest.approx(np.mean(per_article))
    assert s["precision_at_1"] == pytest.approx(np.mean(y[np.arange(len(y)), proba.argmax(1)]))
    assert "lrap" not in scores(y, p)


def test_summary_has_test_means_std_validation_and_seeds():
    per_seed = {"1": {"validation": {"macro_f1": 0.2}, "test": {"macro_f1": 0.3}},
                "2": {"validation": {"macro_f1": 0.4}, "test": {"macro_f1": 0.5}}}
    s = summarise(per_seed)
    assert s["macro_f1"] == pytest.approx(0.4) and s["macro_f1_std"] == pytest.approx(0.1 * 2 ** 0.5)  # sample std
    assert s["validation"]["macro_f1"] == pytest.approx(0.3) and s["per_seed"] == per_seed


def test_tag_probabilities_equal_label_powersets_own():
    from tasks.tags.classification import classifier, tag_probabilities

    rng = np.random.default_rng(0)
    y, _ = random_labels(4, n=120, k=4)
    x = y @ rng.normal(size=(4, 5)) + rng.normal(scale=0.5, size=(120, 5))
    clf = classifier(200).fit(x[:90], y[:90])
    np.testing.assert_allclose(tag_probabilities(clf, x[90:]), np.asarray(clf.predict_proba(x[90:]).todense()),
                               atol=1e-12)


def test_non_convergence_is_counted_not_warned():
    import warnings

    import numpy as np

    from tasks.tags.classification import classifier, fit_counting_non_convergence

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(60, 5)), (rng.random((60, 3)) < 0.4).astype(int)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _, unconverged = fit_counting_non_convergence(classifier(max_iter=1), X, Y)
        _, converged = fit_counting_non_convergence(classifier(max_iter=1000), X, Y)
    assert unconverged == 1 and converged == 0
    assert not [w for w in seen if "converge" in str(w.message).lower()]
