"""Multi-label tag classification on several feature sets, over several seeds, with a
train / validation / test protocol (the evaluate_tags stage's work).

Feature sets: ``text`` (the text embeddings), ``propagation`` (the parameter-free
[X, ÂX, Â²X] baseline, tasks/tags/propagation.py), ``graphsage`` (the learned embeddings
alone) and ``concat`` (text and GraphSAGE side by side). Every feature set of one seed
shares that seed's split, and seed i's split goes with seed i's GraphSAGE training.
Choices are made on validation; test is scored once per feature set and seed.

Metrics follow the original: subset accuracy, macro and weighted precision
(scikit-learn's ``precision_score(average=..., zero_division=0)``), plus micro/macro
recall and F1 and the mean number of predicted tags per article. LabelPowerset predicts
about one tag set per article, so precision rewards predicting little; the ranking
metrics (label ranking average precision, precision@1) score the per-tag probabilities
instead, independently of how many tags the decision rule emits.
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


def three_way_split(Y: np.ndarray, test_size: float, validation_size: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices (train, validation, test): test first, then validation out of the rest,
    both stratified; sizes are shares of all rows. Sorted, disjoint, deterministic."""
    rest, test = shared_split(Y, test_size, seed)
    train, validation = shared_split(Y[rest], validation_size / (1.0 - test_size), seed + 1)
    return np.sort(rest[train]), np.sort(rest[validation]), np.sort(test)


def scores(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None = None) -> dict[str, float]:
    from sklearn.metrics import (accuracy_score, f1_score, label_ranking_average_precision_score, precision_score,
                                 recall_score)

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
        out["lrap"] = float(label_ranking_average_precision_score(y_true, proba))
        top = proba.argmax(axis=1)
        out["precision_at_1"] = float(y_true[np.arange(len(top)), top].mean())
    return out


def classifier(max_iter: int):
    from sklearn.linear_model import LogisticRegression
    from skmultilearn.problem_transform import LabelPowerset

    return LabelPowerset(LogisticRegression(max_iter=max_iter))


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
        means = {k: float(np.mean([per_seed[s][part][k] for s in seeds])) for k in keys}
        stds = {f"{k}_std": float(np.std([per_seed[s][part][k] for s in seeds])) for k in keys}
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


def feature_sets(text: np.ndarray, sage: np.ndarray, propagation: np.ndarray) -> dict[str, np.ndarray]:
    return {"text": text, "propagation": propagation, "graphsage": sage, "concat": np.hstack([text, sage])}


FEATURES = ("text", "propagation", "graphsage", "concat")


def evaluate(params: TagsParams) -> tuple[dict, pd.DataFrame, pd.DataFrame, dict]:
    """Scores per feature set (test means over seeds, their std, validation, per seed),
    per-tag test precision and untagged-article predictions of the first seed, and the
    first seed's concat-feature classifier (what ``tasks.predict tags`` uses)."""
    from sklearn.metrics import precision_score

    from tasks.tags.graph_io import load_graph
    from tasks.tags.propagation import propagate

    e = params.evaluate
    articles = load_articles()
    text, sages = np.load(paths.TEXT_EMBEDDINGS), np.load(paths.SAGE_EMBEDDINGS)
    if sages.ndim != 3 or len(sages) != len(e.seeds):
        raise DataError(paths.SAGE_EMBEDDINGS, None, f"expected one embedding per seed ({len(e.seeds)}), got shape "
                        f"{sages.shape}: run `dvc repro train_sage`")
    graph, _ = load_graph(paths.GRAPH)
    t0 = time.perf_counter()
    propagation = propagate(graph.adj, text, params.propagation.hops)
    propagation_seconds = time.perf_counter() - t0
    targets, rows, Y, untagged = tag_matrix(articles, e.min_count)
    per_seed: dict[str, dict[str, dict]] = {name: {} for name in FEATURES}
    results: dict = {}
    for i, seed in enumerate(e.seeds):
        t0 = time.perf_counter()
        train, validation, test = three_way_split(Y, e.test_size, e.validation_size, seed)
        split_seconds = time.perf_counter() - t0
        print(f"seed {seed}: {len(targets)} target tags (> {e.min_count} articles), {len(rows)} articles, "
              f"{len(train)} train / {len(validation)} validation / {len(test)} test; split {split_seconds:.1f}s",
              flush=True)
        if i == 0:
            results["setup"] = {"target_tags": len(targets), "articles": int(len(rows)), "train": int(len(train)),
                                "validation": int(len(validation)), "test": int(len(test)), "seeds": list(e.seeds),
                                "distinct_train_tag_sets": len({tuple(r) for r in Y[train]}),
                                "split_seconds": split_seconds, "propagation_seconds": propagation_seconds}
        for name, X in feature_sets(text, sages[i], propagation).items():
            t0 = time.perf_counter()
            clf = classifier(e.max_iter).fit(X[rows[train]], Y[train])
            fit_seconds = time.perf_counter() - t0
            parts, predicted = {}, {}
            for part, idx in (("validation", validation), ("test", test)):
                x = X[rows[idx]]
                predicted[part] = dense(clf.predict(x))
                parts[part] = scores(Y[idx], predicted[part], tag_probabilities(clf, x))
            parts["test"]["fit_seconds"] = parts["validation"]["fit_seconds"] = fit_seconds
            per_seed[name][str(seed)] = parts
            print(f"  {name:11s} " + "  ".join(f"{k} {parts['test'][k]:.4f}" for k in
                                              ("macro_precision", "macro_f1", "lrap", "precision_at_1"))
                  + f"  (validation macro F1 {parts['validation']['macro_f1']:.4f}; fit {fit_seconds:.0f}s)",
                  flush=True)
            if i == 0 and name == "concat":
                # kept for the served model, the per-tag plot and the untagged sample
                clf_served, X_served, per_tag_precision = clf, X, precision_score(
                    Y[test], predicted["test"], average=None, zero_division=0)
    results.update({name: summarise(per_seed[name]) for name in FEATURES})

    clf, X = clf_served, X_served
    per_tag = pd.DataFrame({"tag": targets, "concat": per_tag_precision})
    pick = np.random.default_rng(e.seeds[0]).choice(untagged, min(e.untagged_sample, len(untagged)), replace=False)
    samples = pd.DataFrame({"article": articles["key"].to_numpy()[pick],
                            "tags": articles["tags"].to_numpy()[pick].tolist()})
    samples["tags"] = samples["tags"].map(";".join)
    if len(pick):
        samples["predicted_concat"] = [";".join(t for t, g in zip(targets, guess) if g)
                                       for guess in dense(clf.predict(X[pick]))]
    model = {"classifier": clf, "info": {"tags": [str(t) for t in targets], "features": ["text", "graphsage"],
                                         "text_dim": int(text.shape[1]), "sage_dim": int(sages.shape[2]),
                                         "min_count": e.min_count, "seed": e.seeds[0]}}
    return results, per_tag, samples, model


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
