"""Multi-label tag classification on several feature sets, over several seeds, with a
train / validation / test protocol (the evaluate_tags stage's work).

Feature sets: ``text`` (the text embeddings), ``propagation`` (the parameter-free
[X, ÂX, Â²X] baseline, tasks/tags/propagation.py), ``label_reuse`` (text and the train
tags spread one and two hops, each article's own masked; tasks/tags/label_methods.py),
``graphsage`` (the learned embeddings alone) and ``concat`` (text and GraphSAGE side by
side). Every feature set of one seed shares that seed's split, and seed i's split goes
with seed i's GraphSAGE training. Choices are made on validation; test is scored once per
feature set and seed.

Metrics follow the original: subset accuracy, macro and weighted precision
(scikit-learn's ``precision_score(average=..., zero_division=0)``), plus micro/macro
recall and F1 and the mean number of predicted tags per article. LabelPowerset predicts
about one tag set per article, so precision rewards predicting little; the ranking
metrics (label ranking average precision, precision@1) score the per-tag probabilities
instead, independently of how many tags the decision rule emits.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.common.files import DataError
from tasks.common.stats import mean_std
from tasks.tags.scoring import ranking_scores


def target_tags(tags: pd.Series, min_count: int) -> list[str]:
    counts = tags.explode().value_counts()
    return sorted(counts[counts > min_count].index.astype(str))


def shared_split(Y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test) from one iterative stratification. The scikit-multilearn
    function takes no seed and draws from numpy's global generator, so we seed that."""
    from skmultilearn.model_selection import iterative_train_test_split

    state = np.random.get_state()
    np.random.seed(seed)
    try:
        rows = np.arange(len(Y))[:, None]
        train, _, test, _ = iterative_train_test_split(rows, Y, test_size=test_size)
    finally:
        np.random.set_state(state)
    return train.ravel(), test.ravel()


def three_way_split(Y: np.ndarray, test_size: float, validation_size: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices (train, validation, test): test first, then validation out of the rest,
    both stratified; sizes are shares of all rows. Sorted, disjoint, deterministic."""
    rest, test = shared_split(Y, test_size, seed)
    train, validation = shared_split(Y[rest], validation_size / (1.0 - test_size), seed + 1)
    return np.sort(rest[train]), np.sort(rest[validation]), np.sort(test)


def scores(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None = None) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    kw = {"zero_division": 0}
    out = {
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_precision": precision_score(y_true, y_pred, average="macro", **kw),
        "weighted_precision": precision_score(y_true, y_pred, average="weighted", **kw),
        "micro_recall": recall_score(y_true, y_pred, average="micro", **kw),
        "macro_recall": recall_score(y_true, y_pred, average="macro", **kw),
        "micro_f1": f1_score(y_true, y_pred, average="micro", **kw),
        "macro_f1": f1_score(y_true, y_pred, average="macro", **kw),
        "mean_predicted_tags": float(y_pred.sum(axis=1).mean()),
        "mean_true_tags": float(y_true.sum(axis=1).mean()),
    }
    if proba is not None:
        out.update(ranking_scores(y_true, proba))
    return out


def classifier(max_iter: int):
    from sklearn.linear_model import LogisticRegression
    from skmultilearn.problem_transform import LabelPowerset

    return LabelPowerset(LogisticRegression(max_iter=max_iter))


def fit_counting_non_convergence(clf, X: np.ndarray, Y: np.ndarray) -> tuple[object, int]:
    """``clf.fit(X, Y)`` and how many of its solvers stopped at ``max_iter`` unconverged:
    one count per fit for the log, instead of one scikit-learn warning per solver."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(X, Y)
    unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:  # anything else is shown as usual
        if not issubclass(w.category, ConvergenceWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return clf, unconverged


def tag_probabilities(clf, X: np.ndarray) -> np.ndarray:
    """P(tag in the article's set) per tag, (n, tags): LabelPowerset.predict_proba's
    marginals as one matrix product, P(set) @ membership(set, tag). scikit-multilearn
    adds them one sparse entry at a time, minutes for a test split of 2,558 articles."""
    sets = clf.classifier.predict_proba(X)
    membership = np.zeros((sets.shape[1], clf._label_count))
    for column, combination in enumerate(clf.classifier.classes_):
        membership[column, clf.reverse_combinations_[int(combination)]] = 1.0
    return sets @ membership


def dense(m) -> np.ndarray:
    return np.asarray(m.todense()) if hasattr(m, "todense") else np.asarray(m)


def summarise(per_seed: dict[str, dict[str, dict[str, float]]]) -> dict:
    """{seed: {"validation": {...}, "test": {...}}} -> the test means at the top level,
    ``<metric>_std`` beside them, the validation means, and the per-seed figures."""
    seeds = list(per_seed)
    out: dict = {}
    for part in ("test", "validation"):
        keys = per_seed[seeds[0]][part]
        stats = {k: mean_std(per_seed[s][part][k] for s in seeds) for k in keys}  # sample std
        means = {k: mean for k, (mean, _) in stats.items()}
        stds = {f"{k}_std": std for k, (_, std) in stats.items()}
        if part == "test":
            out.update(means)
            out.update(stds)
        else:
            out["validation"] = {**means, **stds}
    out["per_seed"] = per_seed
    return out


def tag_matrix(articles: pd.DataFrame, min_count: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(target tags, rows of the tagged articles, their 0/1 tag matrix, the untagged rows)."""
    from sklearn.preprocessing import MultiLabelBinarizer

    targets = target_tags(articles["tags"], min_count)
    if not targets:
        raise DataError("params.yaml", None, f"no tag is on more than tags.evaluate.min_count={min_count} articles")
    wanted = set(targets)
    kept = articles["tags"].map(lambda ts: [t for t in ts if t in wanted])
    has = kept.map(len).to_numpy() > 0
    Y = MultiLabelBinarizer(classes=targets).fit_transform(kept[has])
    return targets, np.flatnonzero(has), Y, np.flatnonzero(~has)
