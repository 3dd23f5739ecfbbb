"""The evaluate_tags stage's work: every method over every seed, in named steps.

Per seed: one train / validation / test split (tasks/tags/classification.py), then per
feature set one LabelPowerset classifier fitted on train (the fits of all seeds share the
cores), scored on validation and test by the original's rule (its predicted tag sets) and
by the one rule every method shares: per-tag scores, thresholds chosen on validation
(tasks/tags/scoring.py). The label-aware methods (label propagation, and Correct & Smooth
over some classifiers' scores, ``<features>_cs``: tasks/tags/label_aware.py) run in this
process while the fits run in two others, each as soon as its input exists. The first
seed's ``concat`` classifier is the served model (``tasks.predict tags``).
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
from tasks.tags.label_aware import LABEL_AWARE, SMOOTHED, LabelAwareRun, run_label_aware
from tasks.tags.label_methods import reused_labels
from tasks.tags.scoring import add_thresholded
from tasks.tags.tables import load_articles

COMPARED = ("lrap", "precision_at_1", "macro_f1_thresholded")  # what every method is compared on
SERVED = "concat"  # the feature set of the served classifier (its first seed)
FIT_PROCESSES = 2  # LabelPowerset fits at once: the reference machine's cores
RANKING = ("macro_precision", "macro_f1", "lrap", "precision_at_1")  # what the log shows per fit


@dataclass(frozen=True)
class TagData:
    articles: pd.DataFrame
    text: np.ndarray          # (articles, dim)
    sages: np.ndarray         # (seeds, articles, dim): one GraphSAGE run per seed
    compared: dict[str, np.ndarray]  # tags.sage.compare preset -> (seeds, articles, dim)
    adjacency: object         # Â, the row-normalised Jaccard graph (scipy CSR)
    propagation: np.ndarray   # [X, ÂX, Â²X]
    propagation_seconds: float
    targets: list[str]        # the tags predicted
    rows: np.ndarray          # article row of each tagged article
    Y: np.ndarray             # (tagged articles, targets)
    untagged: np.ndarray      # rows of articles with no target tag

    def concat(self, seed_index: int) -> np.ndarray:
        """Text and seed ``seed_index``'s GraphSAGE side by side (the served feature set)."""
        return np.hstack([self.text, self.sages[seed_index]])

    def feature_sets(self, seed_index: int, split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Seed ``seed_index``'s feature sets; ``label_reuse`` (text and the train tags of
        ``split`` spread over the graph, tasks/tags/label_methods.py) depends on the split."""
        sage = self.sages[seed_index]
        train = split["train"]
        reused = reused_labels(self.adjacency, self.rows[train], self.Y[train])
        sets = {"text": self.text, "propagation": self.propagation, "label_reuse": np.hstack([self.text, reused]),
                "graphsage": sage, "concat": self.concat(seed_index)}
        sets.update({f"graphsage_{name}": Z[seed_index] for name, Z in self.compared.items()})
        return sets


@dataclass(frozen=True)
class Fitted:
    classifier: object
    scores: dict[str, dict[str, float]]   # validation / test
    test_predictions: np.ndarray
    unconverged: int
    tag_scores: np.ndarray                # (articles, tags): P(tag) for every article


@dataclass(frozen=True)
class Evaluation:
    results: dict             # metrics/tags.json
    per_tag: pd.DataFrame     # the served classifier's test precision per tag
    samples: pd.DataFrame     # predictions for a sample of untagged articles
    classifier: object
    info: dict                # classifier_info.json
    smoothing: dict           # the served classifier's C&S state (served_smoothing)


def methods(metrics: dict) -> list[str]:
    """The methods of a metrics/tags.json, in its order (every key but ``setup``)."""
    return [name for name in metrics if name != "setup"]


def load_tag_data(params: TagsParams) -> TagData:
    from tasks.tags.graph_io import load_graph
    from tasks.tags.propagation import propagate, row_normalised

    e = params.evaluate
    articles = load_articles()
    text, sages = np.load(paths.TEXT_EMBEDDINGS), np.load(paths.SAGE_EMBEDDINGS)
    if sages.ndim != 3 or len(sages) != len(e.seeds):
        raise DataError(paths.SAGE_EMBEDDINGS, None, f"expected one embedding per seed ({len(e.seeds)}), got shape "
                        f"{sages.shape}: run `dvc repro train_sage`")
    with np.load(paths.SAGE_COMPARE) as z:
        compared = {name: z[name] for name in params.sage.compare}
    graph, _ = load_graph(paths.GRAPH)
    t0 = time.perf_counter()
    propagation = propagate(graph.adj, text, params.propagation.hops)
    propagation_seconds = time.perf_counter() - t0
    targets, rows, Y, untagged = tag_matrix(articles, e.min_count)
    adjacency = row_normalised(graph.adj).astype(np.float32)
    return TagData(articles, text, sages, compared, adjacency, propagation, propagation_seconds, targets, rows, Y,
                   untagged)


def fit_and_score(X: np.ndarray, Y: np.ndarray, rows: dict[str, np.ndarray], max_iter: int) -> Fitted:
    """One classifier on the train rows (``rows``: article rows per part, ``Y``: their
    tags per part), scored on validation and test by both decision rules (fit time in both)."""
    t0 = time.perf_counter()
    clf, unconverged = fit_counting_non_convergence(classifier(max_iter), X[rows["train"]], Y["train"])
    fit_seconds = time.perf_counter() - t0
    every = tag_probabilities(clf, X)
    parts, predicted = {}, {}
    for part in ("validation", "test"):
        predicted[part] = dense(clf.predict(X[rows[part]]))
        parts[part] = scores(Y[part], predicted[part], every[rows[part]])
        parts[part]["fit_seconds"] = fit_seconds
    add_thresholded(parts, Y, {part: every[rows[part]] for part in ("validation", "test")})
    return Fitted(clf, parts, predicted["test"], unconverged, every)


def describe_fit(name: str, fitted: Fitted, max_iter: int) -> str:
    test, seconds = fitted.scores["test"], fitted.scores["test"]["fit_seconds"]
    line = f"  {name:17s} " + "  ".join(f"{k} {test[k]:.4f}" for k in RANKING)
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


def untagged_sample(data: TagData, clf, X: np.ndarray, params: TagsParams, smoothing: dict) -> pd.DataFrame:
    """Articles with none of the target tags, their own tags, and the served model's tags:
    the classifier's tag set and, under the shared rule, its C&S scores' (they are in the graph)."""
    e = params.evaluate
    pick = np.random.default_rng(e.seeds[0]).choice(data.untagged, min(e.untagged_sample, len(data.untagged)),
                                                    replace=False)
    samples = pd.DataFrame({"article": data.articles["key"].to_numpy()[pick],
                            "tags": data.articles["tags"].to_numpy()[pick].tolist()})
    samples["tags"] = samples["tags"].map(";".join)
    if len(pick):
        samples["predicted_concat"] = [";".join(t for t, g in zip(data.targets, guess) if g)
                                       for guess in dense(clf.predict(X[pick]))]
        chosen = smoothing["scores"][pick] >= smoothing["thresholds"][None, :]
        samples[f"predicted_{smoothing['method']}"] = [";".join(t for t, g in zip(data.targets, row) if g)
                                                       for row in chosen]
    return samples


def part_rows(data: TagData, split: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """(article rows, tag matrix) per part of one split."""
    return ({part: data.rows[idx] for part, idx in split.items()}, {part: data.Y[idx] for part, idx in split.items()})


def fit_all(data: TagData, splits: list[dict[str, np.ndarray]], seeds: list[int], max_iter: int,
            meanwhile=None, on_fit=None) -> dict:
    """Every (seed, feature set) LabelPowerset fit, two at a time (one per core on the
    reference machine), the log line of each as it finishes: {(seed, name): Fitted}, in
    seed and feature-set order. The widest feature sets start first, so that the last fits
    to start are short ones and neither core idles long at the end: on citeulike-t the
    widest (concat, 306 features) takes about twice as long a fit as the narrowest (text,
    50). Width is only a proxy: fits stop early where the solver converges.

    Work that needs no fit, ``meanwhile()``, runs in this process once the fits have
    started, and ``on_fit(seed, name, fitted)`` as each fit comes back (in start order);
    the workers go on fitting meanwhile."""
    from joblib import Parallel, delayed

    jobs = [(seed, name, X, *part_rows(data, split))
            for i, (seed, split) in enumerate(zip(seeds, splits))
            for name, X in data.feature_sets(i, split).items()]
    widest_first = sorted(jobs, key=lambda job: -job[2].shape[1])
    run = Parallel(n_jobs=min(FIT_PROCESSES, len(jobs)), return_as="generator")(
        delayed(fit_and_score)(X, Y, rows, max_iter) for _, _, X, rows, Y in widest_first)
    if meanwhile:
        meanwhile()
    done = {}
    for (seed, name, *_), result in zip(widest_first, run):
        done[seed, name] = result
        print(f"seed {seed}" + describe_fit(name, result, max_iter), flush=True)
        if on_fit:
            on_fit(seed, name, result)
    return {(seed, name): done[seed, name] for seed, name, *_ in jobs}


@dataclass(frozen=True)
class FitsAndLabelAware:
    fitted: dict              # {(seed, feature set): Fitted}, seed and feature-set order
    label_aware: dict         # {(seed, method): LabelAwareRun}
    fits_seconds: float       # the fits' start to this process taking the last fit (maybe late: busy with a C&S)
    label_aware_seconds: float  # the label-aware runs' own seconds, summed (they overlap the fits)
    seconds: float            # all of it


def fits_and_label_aware(data: TagData, splits: list[dict[str, np.ndarray]], seeds: list[int],
                         max_iter: int) -> FitsAndLabelAware:
    """The LabelPowerset fits, with the label-aware methods run here meanwhile: label
    propagation of every seed while the first fits run, each ``<features>_cs`` as soon as
    its classifier's fit comes back. Each result is what it would be run alone."""
    parts = {seed: part_rows(data, split) for seed, split in zip(seeds, splits)}
    runs: dict[tuple[int, str], LabelAwareRun] = {}
    last_fit = [0.0]

    def label_aware(seed: int, method: str, base_scores: np.ndarray | None = None) -> None:
        rows, Y = parts[seed]
        runs[seed, method] = run_label_aware(method, data.adjacency, rows, Y, base_scores, seed)

    def on_fit(seed: int, name: str, fitted: Fitted) -> None:
        last_fit[0] = time.perf_counter()
        if name in SMOOTHED:
            label_aware(seed, f"{name}_cs", fitted.tag_scores)

    t0 = time.perf_counter()
    fitted = fit_all(data, splits, seeds, max_iter,
                     meanwhile=lambda: [label_aware(seed, "label_propagation") for seed in seeds], on_fit=on_fit)
    ordered = {(seed, method): runs[seed, method] for seed in seeds for method in LABEL_AWARE}
    own = sum(run.record["test"]["seconds"] for run in ordered.values())
    return FitsAndLabelAware(fitted, ordered, last_fit[0] - t0, own, time.perf_counter() - t0)


def evaluate(params: TagsParams) -> Evaluation:
    """Scores per method (test means over seeds, their std, validation, per seed), and the
    first seed's concat classifier with its per-tag precision and untagged sample."""
    from sklearn.metrics import precision_score

    e = params.evaluate
    started = time.perf_counter()
    data = load_tag_data(params)
    timed = [split_for(data, params, seed) for seed in e.seeds]
    splits = [split for split, _ in timed]
    both = fits_and_label_aware(data, splits, list(e.seeds), e.max_iter)
    fitted = both.fitted
    per_seed: dict[str, dict[str, dict]] = {}
    for (seed, name), result in fitted.items():
        per_seed.setdefault(name, {})[str(seed)] = result.scores
    for (seed, method), run in both.label_aware.items():
        per_seed.setdefault(method, {})[str(seed)] = run.record
    smoothing = served_smoothing(both.label_aware[e.seeds[0], f"{SERVED}_cs"])
    results = {"setup": {**setup_record(data, params, splits[0], timed[0][1]),
                         "labelpowerset_fits": len(fitted), "labelpowerset_wall_seconds": both.fits_seconds,
                         "labelpowerset_fit_seconds": sum(f.scores["test"]["fit_seconds"] for f in fitted.values()),
                         "label_aware_seconds": both.label_aware_seconds,
                         "fits_and_label_aware_seconds": both.seconds}}
    results.update({name: summarise(runs) for name, runs in per_seed.items()})
    served = fitted[e.seeds[0], SERVED]
    served_X = data.concat(0)
    per_tag_precision = precision_score(data.Y[splits[0]["test"]], served.test_predictions, average=None,
                                        zero_division=0)
    info = {"tags": [str(t) for t in data.targets], "features": ["text", "graphsage"],
            "text_dim": int(data.text.shape[1]), "sage_dim": int(data.sages.shape[2]), "min_count": e.min_count,
            "seed": e.seeds[0]}
    samples = untagged_sample(data, served.classifier, served_X, params, smoothing)
    results["setup"]["evaluate_seconds"] = time.perf_counter() - started  # loading to the sample, all of it
    return Evaluation(results, pd.DataFrame({"tag": data.targets, "concat": per_tag_precision}), samples,
                      served.classifier, info, smoothing)


def served_smoothing(run: LabelAwareRun) -> dict:
    """What ``predict tags`` needs to put a new article through the served classifier's
    C&S (tasks/tags/label_methods.py:correct_and_smooth_new) and the thresholds."""
    result = run.state
    return {"method": f"{SERVED}_cs", "scores": result.scores, "errors": result.errors, "sigma": result.sigma,
            "alphas": result.alphas, "thresholds": run.thresholds}


def evaluate_and_save(params: TagsParams) -> dict:
    """Evaluate; write metrics/tags.json, the per-tag plot, the untagged-article sample,
    the concat classifier and its info (tag order, feature sizes) beside it."""
    import joblib

    evaluation = evaluate(params)
    with atomic_path(paths.CLASSIFIER) as tmp:  # the served model: the classifier and its C&S state
        joblib.dump({"classifier": evaluation.classifier, "smoothing": evaluation.smoothing}, tmp)
    write_json(paths.CLASSIFIER_INFO, evaluation.info)
    write_text(paths.PER_TAG_PRECISION, evaluation.per_tag.to_csv(index=False))
    write_text(paths.UNTAGGED, evaluation.samples.to_csv(index=False))
    write_json(paths.TAGS_METRICS, evaluation.results)
    return evaluation.results
