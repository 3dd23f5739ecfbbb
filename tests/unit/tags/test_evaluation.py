"""evaluate_tags' LabelPowerset fits: run widest first on two processes, returned in seed
and feature-set order, each result the fit of its own features and split."""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tasks.tags import evaluation as ev
from tasks.tags.propagation import row_normalised


def tiny_data(n: int = 120, tags: int = 3, seed: int = 0) -> ev.TagData:
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, tags)) < 0.4).astype(int)
    text = (Y @ rng.normal(size=(tags, 4)) + rng.normal(size=(n, 4))).astype(np.float32)
    sages = rng.normal(size=(2, n, 9)).astype(np.float32)   # wider than text: it starts first
    adjacency = row_normalised(sp.random(n, n, density=0.05, random_state=seed, format="csr")).astype(np.float32)
    return ev.TagData(articles=pd.DataFrame({"key": range(n)}), text=text, sages=sages,
                      compared={"random": rng.normal(size=(2, n, 2)).astype(np.float32)}, adjacency=adjacency,
                      propagation=np.hstack([text, text]), propagation_seconds=0.0, targets=["a", "b", "c"],
                      rows=np.arange(n), Y=Y, untagged=np.array([], int))


def test_fits_come_back_in_order_each_the_fit_of_its_own_features_and_split():
    data = tiny_data()
    splits = [{"train": np.arange(0, 80), "validation": np.arange(80, 100), "test": np.arange(100, 120)},
              {"train": np.arange(40, 120), "validation": np.arange(20, 40), "test": np.arange(0, 20)}]
    fitted = ev.fit_all(data, splits, [42, 43], max_iter=50)
    names = list(data.feature_sets(0, splits[0]))
    assert list(fitted) == [(seed, name) for seed in (42, 43) for name in names]
    for i, (seed, split) in enumerate(zip((42, 43), splits)):
        for name, X in data.feature_sets(i, split).items():
            alone = ev.fit_and_score(X, *reversed(ev.part_rows(data, split)), max_iter=50)
            np.testing.assert_array_equal(fitted[seed, name].tag_scores, alone.tag_scores)


def test_label_aware_runs_beside_the_fits_give_what_they_give_alone_in_metrics_order():
    """Label propagation and every <features>_cs run while the fits run: each record (its
    seconds aside) equals the same method run alone on the finished fit's scores, and they
    come back in metrics/tags.json's order."""
    from tasks.tags.label_aware import LABEL_AWARE, run_label_aware

    data = tiny_data()
    splits = [{"train": np.arange(0, 80), "validation": np.arange(80, 100), "test": np.arange(100, 120)},
              {"train": np.arange(40, 120), "validation": np.arange(20, 40), "test": np.arange(0, 20)}]
    both = ev.fits_and_label_aware(data, splits, [42, 43], max_iter=50)
    assert list(both.label_aware) == [(seed, m) for seed in (42, 43) for m in LABEL_AWARE]
    assert both.seconds >= both.fits_seconds > 0 and both.label_aware_seconds > 0

    def without_seconds(record):
        return {k: ({f: x for f, x in v.items() if f != "seconds"} if isinstance(v, dict) else v)
                for k, v in record.items()}

    for seed, split in zip((42, 43), splits):
        rows, Y = ev.part_rows(data, split)
        for method in LABEL_AWARE:
            base = None if method == "label_propagation" else both.fitted[seed, method[:-3]].tag_scores
            alone = run_label_aware(method, data.adjacency, rows, Y, base, seed)
            assert without_seconds(both.label_aware[seed, method].record) == without_seconds(alone.record)
            np.testing.assert_array_equal(both.label_aware[seed, method].thresholds, alone.thresholds)
