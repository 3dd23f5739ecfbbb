"""evaluate_tags' label-aware methods, one (seed, method) at a time.

Label propagation needs no classifier; ``<features>_cs`` (Correct & Smooth) needs that
one classifier's tag scores. Run one by one, they can start the moment their input
exists, so evaluate_tags runs them in its own process while the LabelPowerset fits run in
the two worker processes (tasks/tags/evaluation.py). Only the train rows' tags enter the
spread matrices; validation picks every α and threshold (tasks/tags/label_methods.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from tasks.tags.label_methods import Chosen, correct_and_smooth, label_propagation
from tasks.tags.scoring import ranking_scores, score_only

# Correct & Smooth over these classifiers' scores:
SMOOTHED = ("text", "propagation", "label_reuse", "graphsage", "concat")
LABEL_AWARE = ("label_propagation", *(f"{name}_cs" for name in SMOOTHED))  # metrics/tags.json's order


@dataclass(frozen=True)
class LabelAwareRun:
    record: dict              # metrics/tags.json's per-seed entry: validation, test, chosen
    state: Chosen             # the scores and what was chosen
    thresholds: np.ndarray    # per tag, chosen on validation


def run_label_aware(method: str, adjacency, rows: dict[str, np.ndarray], Y: dict[str, np.ndarray],
                    base_scores: np.ndarray | None = None, seed: int | None = None) -> LabelAwareRun:
    """``label_propagation``, or ``<features>_cs`` over ``base_scores`` (that classifier's
    P(tag) for every article), on one split: ``rows`` are the article rows of each part
    and ``Y`` their tags. Logs one line; the seconds it took go in both parts' records."""
    def validation_lrap(every: np.ndarray) -> float:
        return ranking_scores(Y["validation"], every[rows["validation"]])["lrap"]

    t0 = time.perf_counter()
    if method == "label_propagation":
        result = label_propagation(adjacency, rows["train"], Y["train"], validation_lrap)
    elif method.endswith("_cs") and base_scores is not None:
        result = correct_and_smooth(adjacency, base_scores, rows["train"], Y["train"], validation_lrap)
    else:
        raise ValueError(f"{method!r}: expected label_propagation, or <features>_cs with that classifier's scores")
    parts, thresholds = score_only(Y, rows, result.scores)
    record = {**parts, "chosen": result.alphas}
    record["test"]["seconds"] = record["validation"]["seconds"] = time.perf_counter() - t0
    test = record["test"]
    print(f"seed {seed}  {method:17s} lrap {test['lrap']:.4f}  precision_at_1 {test['precision_at_1']:.4f}  "
          f"thresholded macro F1 {test['macro_f1_thresholded']:.4f}  (chosen on validation: {result.alphas})",
          flush=True)
    return LabelAwareRun(record, result, thresholds)
