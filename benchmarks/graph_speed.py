"""Graph pipeline speed on citeulike-t, in one run:

1. Jaccard projection: our sparse-product implementation (tasks.tags.graph.jaccard_projection)
   against a straightforward reference (Python set intersections over every candidate
   pair of articles that share a list) on the same data, with identical results checked;
   for the configured list-size cutoff and for the full graph.
2. GraphSAGE, for the gds and default presets: training time and throughput (target
   nodes/s), time to embed every article, peak memory; set beside Neo4j GDS's recorded
   79.4 s training / 70.1 s writing on the 55k-article Medium graph (another machine
   and data set).
3. The parameter-free propagation features [X, ÂX, Â²X]: time on the full graph.

The model code is pure keras.ops; ``KERAS_BACKEND=jax`` should select JAX (untried here).

    python benchmarks/graph_speed.py            # needs `dvc repro sample_graph embed_text`
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.report.markdown import this_machine  # noqa: E402
from tasks.common.settings import quiet_environment  # noqa: E402

quiet_environment()
os.chdir(ROOT)


def reference_projection(articles, lists, max_list_size: int) -> dict[tuple[int, int], float]:
    """Jaccard over shared lists, pair by pair with Python sets (no top-k: every pair)."""
    members = defaultdict(set)
    for a, l in zip(articles.tolist(), lists.tolist()):
        members[l].add(a)
    if max_list_size:
        members = {l: m for l, m in members.items() if len(m) <= max_list_size}
    of = defaultdict(set)
    for l, m in members.items():
        for a in m:
            of[a].add(l)
    scores = {}
    for m in members.values():
        for a in m:
            for b in m:
                if a != b and (a, b) not in scores:
                    shared = len(of[a] & of[b])
                    scores[(a, b)] = shared / (len(of[a]) + len(of[b]) - shared)
    return scores


def projection_rows(max_list_size: int) -> dict:
    import pandas as pd

    from tasks.tags.graph import incidence, jaccard_projection

    members = pd.read_parquet("data/prepared/tags/articles/memberships.parquet")
    n = len(pd.read_parquet("data/prepared/tags/articles/articles.parquet", columns=["article"]))
    list_ids, lists = pd.factorize(members["list"])
    arts = members["article"].to_numpy()
    t0 = time.perf_counter()
    B = incidence(arts, list_ids, n, len(lists))
    S = jaccard_projection(B, 1e-42, 1, n, max_list_size)  # top_k = n: every pair, like the reference
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = reference_projection(arts, list_ids, max_list_size)
    reference = time.perf_counter() - t0
    coo = S.tocoo()
    same = len(ref) == S.nnz and all(abs(ref[(int(i), int(j))] - float(v)) < 1e-5
                                     for i, j, v in zip(coo.row[::97], coo.col[::97], coo.data[::97]))
    return {"max_list_size": max_list_size, "ordered_pairs": int(S.nnz), "ours_s": ours, "reference_s": reference,
            "speedup": reference / ours, "identical_pairs_and_scores": bool(same)}


def sage_row(preset: str) -> dict:
    from models.graphsage import resolve_config
    from tasks.common.params import load_params
    from tasks.tags.sage import fit_and_embed

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    *_, stats = fit_and_embed(resolve_config(preset), load_params().tags.evaluate.seeds[0])
    stats["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats["rss_before_mb"] = before
    return {"preset": preset, **stats}


def propagation_row() -> dict:
    import numpy as np

    from tasks.common.params import load_params
    from tasks.tags.graph_io import load_graph
    from tasks.tags.propagation import propagate

    hops = load_params().tags.propagation.hops
    g, _ = load_graph(Path("data/prepared/tags/graph.npz"))
    x = np.load("data/prepared/tags/text_embeddings.npy")
    t0 = time.perf_counter()
    features = propagate(g.adj, x, hops)
    return {"hops": hops, "articles": int(g.n), "edges": int(g.adj.nnz // 2), "dim": int(features.shape[1]),
            "seconds": time.perf_counter() - t0}


def main() -> None:
    from tasks.common.params import load_params

    if not Path("data/prepared/tags/sample.npz").is_file():
        sys.exit("error: run `dvc repro sample_graph embed_text` first")
    configured = load_params().tags.projection.max_list_size
    rows = [projection_rows(configured)] + ([projection_rows(0)] if configured else [])
    sage = [sage_row(preset) for preset in ("gds", "default")]
    propagation = propagation_row()
    import keras

    result = {"machine": this_machine(),
              "backend": keras.backend.backend(), "command": " ".join([Path(sys.executable).name] + sys.argv),
              "projection": rows, "graphsage": sage, "propagation": propagation,
              "gds_reference": {"train_s": 79.4, "write_s": 70.1, "articles": 54933,
                                "note": "Neo4j GDS on the Medium graph, another machine"}}
    out = ROOT / "benchmarks" / "results" / "graph_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("\n| projection | ordered pairs | ours s | reference s | speed-up | identical |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| max_list_size={r['max_list_size']} | {r['ordered_pairs']:,} | {r['ours_s']:.2f} | "
              f"{r['reference_s']:.1f} | {r['speedup']:.0f}x | {r['identical_pairs_and_scores']} |")
    print(f"\n| GraphSAGE ({result['backend']}) | trained on | epochs | train s | target nodes/s | embed s "
          f"(articles) | peak RSS MB |\n|---|---|---|---|---|---|---|")
    for r in sage:
        print(f"| {r['preset']} | {r['train_nodes']:,} | {r['epochs_run']} | {r['train_seconds']:.1f} | "
              f"{r['train_target_nodes_per_s']:.0f} | {r['embed_seconds']:.1f} ({r['embedded_nodes']:,}) | "
              f"{r['peak_rss_mb']:.0f} |")
    print("| GDS (Medium, 54,933 articles, other machine) | | | 79.4 | | 70.1 (write) | |")
    print(f"\npropagation [X, ÂX, ..., Â^{propagation['hops']}X] over {propagation['edges']:,} edges: "
          f"{propagation['seconds']:.2f} s, no training")
    print(f"written {out}")


if __name__ == "__main__":
    main()
