"""How the default GraphSAGE preset was chosen: each variant is trained on citeulike-t
and scored on a validation split only (the test rows are never used here).

The split: test is drawn first exactly as evaluate_tags draws it (iterative
stratification, 20 %, seed 42); validation is 12.5 % of the remaining rows (10 % of all).
One seed (42) per variant: this script ranks changes, the pipeline then reports the
chosen preset over three seeds. The classifier is the pipeline's (LabelPowerset over
logistic regression), so one variant costs its training plus ~1 min per fit.

    python benchmarks/sage_variants.py base             # text and propagation
    python benchmarks/sage_variants.py '{}' '{"output_activation": false}'   # gds + overrides
    python benchmarks/sage_variants.py --concat '{...}' # also score [text, GraphSAGE]

Needs `dvc repro sample_graph embed_text`. Each line printed is one variant's validation
scores; README ("A GraphSAGE that learns") lists the ones that chose the default.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.common.settings import quiet_environment  # noqa: E402

quiet_environment()
os.chdir(ROOT)

import numpy as np  # noqa: E402


def validation_split(seed: int = 42):
    from tasks.tags.classification import shared_split, tag_matrix
    from tasks.tags.tables import load_articles

    _, rows, Y, _ = tag_matrix(load_articles(), 500)
    rest, _test = shared_split(Y, 0.2, seed)
    train, validation = shared_split(Y[rest], 0.125, seed)
    return rows, Y, rest[train], rest[validation]


def score(X, rows, Y, train, validation, name: str) -> dict:
    from tasks.tags.classification import classifier, dense, scores

    t0 = time.perf_counter()
    clf = classifier(100).fit(X[rows[train]], Y[train])
    x = X[rows[validation]]
    s = scores(Y[validation], dense(clf.predict(x)), dense(clf.predict_proba(x)))
    out = {k: round(s[k], 4) for k in ("macro_precision", "macro_f1", "micro_f1", "lrap")}
    print(name, json.dumps({**out, "fit_s": round(time.perf_counter() - t0)}), flush=True)
    return out


def main() -> None:
    from models.graphsage import resolve_config
    from tasks.common import paths
    from tasks.tags.graph_io import load_graph
    from tasks.tags.propagation import propagate
    from tasks.tags.sage import fit_and_embed

    rows, Y, train, validation = validation_split()
    X = np.load(paths.TEXT_EMBEDDINGS)
    if sys.argv[1:] == ["base"]:
        score(X, rows, Y, train, validation, "text")
        score(propagate(load_graph(paths.GRAPH)[0].adj, X, 2), rows, Y, train, validation, "propagation")
        return
    concat = "--concat" in sys.argv
    for spec in (a for a in sys.argv[1:] if a != "--concat"):
        config = resolve_config("gds", **json.loads(spec))
        _, Z, history, _ = fit_and_embed(config, 42)
        print("loss", [round(h["loss"], 3) for h in history], flush=True)
        score(Z, rows, Y, train, validation, f"graphsage {spec}")
        if concat:
            score(np.hstack([X, Z]), rows, Y, train, validation, f"concat {spec}")


if __name__ == "__main__":
    main()
