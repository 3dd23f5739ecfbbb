"""Multi-label tag classification on text, GraphSAGE and concatenated features, with
one shared, seeded iterative-stratification split (the evaluate_tags stage's work).

Metrics follow the original: subset accuracy, macro and weighted precision
(scikit-learn's ``precision_score(average=..., zero_division=0)``), plus micro/macro
recall and F1 and the mean number of predicted tags per article.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from tasks.common import paths
from tasks.common.files import DataError, atomic_path, write_json, write_text
from tasks.common.params import TagsParams
from tasks.tags.tables import load_articles


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


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    kw = {"zero_division": 0}
    return {
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


def classifier(max_iter: int):
    from sklearn.linear_model import LogisticRegression
    from skmultilearn.problem_transform import LabelPowerset

    return LabelPowerset(LogisticRegression(max_iter=max_iter))


def evaluate(params: TagsParams) -> tuple[dict, pd.DataFrame, pd.DataFrame, dict]:
    """Scores per feature set, per-tag precision, untagged-article predictions, and the
    concat-feature classifier (what ``tasks.predict tags`` uses) with its tag order."""
    from sklearn.metrics import precision_score
    from sklearn.preprocessing import MultiLabelBinarizer

    e = params.evaluate
    articles = load_articles()
    text, sage = np.load(paths.TEXT_EMBEDDINGS), np.load(paths.SAGE_EMBEDDINGS)
    features = {"text": text, "graphsage": sage, "concat": np.hstack([text, sage])}
    targets = target_tags(articles["tags"], e.min_count)
    if not targets:
        raise DataError("params.yaml", None, f"no tag is on more than tags.evaluate.min_count={e.min_count} articles")
    wanted = set(targets)
    kept = articles["tags"].map(lambda ts: [t for t in ts if t in wanted])
    has = kept.map(len).to_numpy() > 0
    rows = np.flatnonzero(has)
    mlb = MultiLabelBinarizer(classes=targets)
    Y = mlb.fit_transform(kept[has])
    t0 = time.perf_counter()
    train, test = shared_split(Y, e.test_size, e.seed)
    split_seconds = time.perf_counter() - t0
    distinct = len({tuple(r) for r in Y[train]})
    print(f"{len(targets)} target tags (> {e.min_count} articles), {len(rows)} articles, "
          f"{len(train)} train / {len(test)} test, {distinct} distinct tag sets in train; split {split_seconds:.1f}s")
    results: dict = {"setup": {"target_tags": len(targets), "articles": int(len(rows)), "train": int(len(train)),
                               "test": int(len(test)), "distinct_train_tag_sets": distinct,
                               "split_seconds": split_seconds}}
    per_tag = {"tag": targets}
    untagged = np.flatnonzero(~has)
    pick = np.random.default_rng(e.seed).choice(untagged, min(e.untagged_sample, len(untagged)), replace=False)
    samples = pd.DataFrame({"article": articles["key"].to_numpy()[pick],
                            "tags": articles["tags"].to_numpy()[pick]})
    for name, X in features.items():
        t0 = time.perf_counter()
        clf = classifier(e.max_iter).fit(X[rows[train]], Y[train])
        pred = np.asarray(clf.predict(X[rows[test]]).todense())
        results[name] = scores(Y[test], pred)
        results[name]["fit_seconds"] = time.perf_counter() - t0
        per_tag[name] = precision_score(Y[test], pred, average=None, zero_division=0)
        print(f"{name:10s} " + "  ".join(f"{k} {v:.4f}" for k, v in results[name].items()), flush=True)
        if len(pick):
            guess = np.asarray(clf.predict(X[pick]).todense())
            samples[f"predicted_{name}"] = [";".join(mlb.classes_[g.astype(bool)]) for g in guess]
        if name == "concat":
            model = {"classifier": clf, "info": {"tags": [str(t) for t in mlb.classes_],
                                                 "features": ["text", "graphsage"], "text_dim": int(text.shape[1]),
                                                 "sage_dim": int(sage.shape[1]), "min_count": e.min_count}}
    samples["tags"] = samples["tags"].map(";".join)
    return results, pd.DataFrame(per_tag), samples, model


def evaluate_and_save(params: TagsParams) -> dict:
    """Evaluate; write metrics/tags.json, the per-tag plot, the untagged-article sample,
    the concat classifier and its info (tag order, feature sizes) beside it."""
    import joblib

    results, per_tag, samples, model = evaluate(params)
    with atomic_path(paths.CLASSIFIER) as tmp:
        joblib.dump(model["classifier"], tmp)
    write_json(paths.CLASSIFIER_INFO, model["info"])
    write_text(paths.PER_TAG_PRECISION, per_tag.to_csv(index=False))
    write_text(paths.UNTAGGED, samples.to_csv(index=False))
    write_json(paths.TAGS_METRICS, results)
    return results
