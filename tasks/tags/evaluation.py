"""The evaluate_tags stage's work: every feature set over every seed, in named steps.

Per seed: one train / validation / test split (tasks/tags/classification.py), then per
feature set one LabelPowerset classifier fitted on train and scored on validation and
test. The first seed's ``concat`` classifier is the served model (``tasks.predict tags``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.common import paths
from tasks.common.files import DataError, atomic_path, write_json, write_text
from tasks.common.params import TagsParams
from tasks.tags.classification import (classifier, dense, fit_counting_non_convergence, scores, summarise,
                                       tag_matrix, tag_probabilities, three_way_split)
from tasks.tags.tables import load_articles

FEATURES = ("text", "propagation", "graphsage", "concat")
SERVED = "concat"  # the feature set of the served classifier (its first seed)
RANKING = ("macro_precision", "macro_f1", "lrap", "precision_at_1")  # what the log shows per fit


@dataclass(frozen=True)
class TagData:
    articles: pd.DataFrame
    text: np.ndarray          # (articles, dim)
    sages: np.ndarray         # (seeds, articles, dim): one GraphSAGE run per seed
    propagation: np.ndarray   # [X, ÂX, Â²X]
    propagation_seconds: float
    targets: list[str]        # the tags predicted
    rows: np.ndarray          # article row of each tagged article
    Y: np.ndarray             # (tagged articles, targets)
    untagged: np.ndarray      # rows of articles with no target tag

    def feature_sets(self, seed_index: int) -> dict[str, np.ndarray]:
        sage = self.sages[seed_index]
        return {"text": self.text, "propagation": self.propagation, "graphsage": sage,
                "concat": np.hstack([self.text, sage])}


@dataclass(frozen=True)
class Fitted:
    classifier: object
    scores: dict[str, dict[str, float]]   # validation / test
    test_predictions: np.ndarray
    unconverged: int


@dataclass(frozen=True)
class Evaluation:
    results: dict             # metrics/tags.json
    per_tag: pd.DataFrame     # the served classifier's test precision per tag
    samples: pd.DataFrame     # predictions for a sample of untagged articles
    classifier: object
    info: dict                # classifier_info.json


def load_tag_data(params: TagsParams) -> TagData:
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
    return TagData(articles, text, sages, propagation, propagation_seconds, targets, rows, Y, untagged)


def fit_and_score(X: np.ndarray, data: TagData, split: dict[str, np.ndarray], max_iter: int) -> Fitted:
    """One classifier on the train rows, scored on validation and test (fit time in both)."""
    t0 = time.perf_counter()
    clf, unconverged = fit_counting_non_convergence(classifier(max_iter), X[data.rows[split["train"]]],
                                                    data.Y[split["train"]])
    fit_seconds = time.perf_counter() - t0
    parts, predicted = {}, {}
    for part in ("validation", "test"):
        x = X[data.rows[split[part]]]
        predicted[part] = dense(clf.predict(x))
        parts[part] = scores(data.Y[split[part]], predicted[part], tag_probabilities(clf, x))
    parts["test"]["fit_seconds"] = parts["validation"]["fit_seconds"] = fit_seconds
    return Fitted(clf, parts, predicted["test"], unconverged)


def describe_fit(name: str, fitted: Fitted, max_iter: int) -> str:
    test, seconds = fitted.scores["test"], fitted.scores["test"]["fit_seconds"]
    line = f"  {name:11s} " + "  ".join(f"{k} {test[k]:.4f}" for k in RANKING)
    line += f"  (validation macro F1 {fitted.scores['validation']['macro_f1']:.4f}; fit {seconds:.0f}s)"
    if fitted.unconverged:
        line += f"  [{fitted.unconverged} solver(s) stopped at max_iter {max_iter} unconverged]"
    return line


def split_for(data: TagData, params: TagsParams, seed: int) -> tuple[dict[str, np.ndarray], float]:
    e = params.evaluate
    t0 = time.perf_counter()
    train, validation, test = three_way_split(data.Y, e.test_size, e.validation_size, seed)
    seconds = time.perf_counter() - t0
    print(f"seed {seed}: {len(data.targets)} target tags (> {e.min_count} articles), {len(data.rows)} articles, "
          f"{len(train)} train / {len(validation)} validation / {len(test)} test; split {seconds:.1f}s", flush=True)
    return {"train": train, "validation": validation, "test": test}, seconds


def setup_record(data: TagData, params: TagsParams, split: dict[str, np.ndarray], split_seconds: float) -> dict:
    return {"target_tags": len(data.targets), "articles": int(len(data.rows)), "train": int(len(split["train"])),
            "validation": int(len(split["validation"])), "test": int(len(split["test"])),
            "seeds": list(params.evaluate.seeds),
            "distinct_train_tag_sets": len({tuple(r) for r in data.Y[split["train"]]}),
            "split_seconds": split_seconds, "propagation_seconds": data.propagation_seconds}


def untagged_sample(data: TagData, clf, X: np.ndarray, params: TagsParams) -> pd.DataFrame:
    e = params.evaluate
    pick = np.random.default_rng(e.seeds[0]).choice(data.untagged, min(e.untagged_sample, len(data.untagged)),
                                                    replace=False)
    samples = pd.DataFrame({"article": data.articles["key"].to_numpy()[pick],
                            "tags": data.articles["tags"].to_numpy()[pick].tolist()})
    samples["tags"] = samples["tags"].map(";".join)
    if len(pick):
        samples["predicted_concat"] = [";".join(t for t, g in zip(data.targets, guess) if g)
                                       for guess in dense(clf.predict(X[pick]))]
    return samples


def evaluate(params: TagsParams) -> Evaluation:
    """Scores per feature set (test means over seeds, their std, validation, per seed),
    and the first seed's concat classifier with its per-tag precision and untagged sample."""
    from sklearn.metrics import precision_score

    e = params.evaluate
    data = load_tag_data(params)
    per_seed: dict[str, dict[str, dict]] = {name: {} for name in FEATURES}
    results: dict = {}
    for i, seed in enumerate(e.seeds):
        split, split_seconds = split_for(data, params, seed)
        if i == 0:
            results["setup"] = setup_record(data, params, split, split_seconds)
        for name, X in data.feature_sets(i).items():
            fitted = fit_and_score(X, data, split, e.max_iter)
            per_seed[name][str(seed)] = fitted.scores
            print(describe_fit(name, fitted, e.max_iter), flush=True)
            if i == 0 and name == SERVED:
                served, served_X = fitted, X
                per_tag_precision = precision_score(data.Y[split["test"]], fitted.test_predictions, average=None,
                                                    zero_division=0)
    results.update({name: summarise(per_seed[name]) for name in FEATURES})
    info = {"tags": [str(t) for t in data.targets], "features": ["text", "graphsage"],
            "text_dim": int(data.text.shape[1]), "sage_dim": int(data.sages.shape[2]), "min_count": e.min_count,
            "seed": e.seeds[0]}
    return Evaluation(results, pd.DataFrame({"tag": data.targets, "concat": per_tag_precision}),
                      untagged_sample(data, served.classifier, served_X, params), served.classifier, info)


def evaluate_and_save(params: TagsParams) -> dict:
    """Evaluate; write metrics/tags.json, the per-tag plot, the untagged-article sample,
    the concat classifier and its info (tag order, feature sizes) beside it."""
    import joblib

    evaluation = evaluate(params)
    with atomic_path(paths.CLASSIFIER) as tmp:
        joblib.dump(evaluation.classifier, tmp)
    write_json(paths.CLASSIFIER_INFO, evaluation.info)
    write_text(paths.PER_TAG_PRECISION, evaluation.per_tag.to_csv(index=False))
    write_text(paths.UNTAGGED, evaluation.samples.to_csv(index=False))
    write_json(paths.TAGS_METRICS, evaluation.results)
    return evaluation.results
