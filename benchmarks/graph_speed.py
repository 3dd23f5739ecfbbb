"""Graph pipeline speed on citeulike-t, in one run:

1. Jaccard projection: our sparse-product implementation (tasks.tags.graph.jaccard_projection)
   against a straightforward reference (Python set intersections over every candidate
   pair of articles that share a list) on the same data, with identical results checked;
   for the configured list-size cutoff and for the full graph.
2. GraphSAGE: training throughput (target nodes/s) on the RWR sample, time to embed
   every article, peak memory; set beside Neo4j GDS's recorded 79.4 s training /
   70.1 s writing on the 55k-article Medium graph (another machine and data set).

    python benchmarks/graph_speed.py            # needs `dvc repro sample_graph embed_text`
"""
from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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


def sage_row() -> dict:
    from tasks.common.params import load_params
    from tasks.tags.sage import fit_and_embed

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    *_, stats = fit_and_embed(load_params().tags.sage)
    stats["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats["rss_before_mb"] = before
    return stats


def main() -> None:
    from tasks.common.params import load_params

    if not Path("data/prepared/tags/sample.npz").is_file():
        sys.exit("error: run `dvc repro sample_graph embed_text` first")
    configured = load_params().tags.projection.max_list_size
    rows = [projection_rows(configured)] + ([projection_rows(0)] if configured else [])
    sage = sage_row()
    import keras

    result = {"machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores",
              "backend": keras.backend.backend(), "command": " ".join([Path(sys.executable).name] + sys.argv),
              "projection": rows, "graphsage": sage,
              "gds_reference": {"train_s": 79.4, "write_s": 70.1, "articles": 54933,
                                "note": "Neo4j GDS on the Medium graph, another machine"}}
    out = ROOT / "benchmarks" / "results" / "graph_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("\n| projection | ordered pairs | ours s | reference s | speed-up | identical |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| max_list_size={r['max_list_size']} | {r['ordered_pairs']:,} | {r['ours_s']:.2f} | "
              f"{r['reference_s']:.1f} | {r['speedup']:.0f}x | {r['identical_pairs_and_scores']} |")
    print(f"\nGraphSAGE: {sage['sample_nodes']} sampled nodes, {sage['epochs_run']} epochs in {sage['train_seconds']:.1f} s "
          f"({sage['train_target_nodes_per_s']:.0f} target nodes/s); embedded {sage['embedded_nodes']} articles in "
          f"{sage['embed_seconds']:.1f} s; peak RSS {sage['peak_rss_mb']:.0f} MB. "
          f"GDS (Medium, 54,933 articles, other machine): 79.4 s training, 70.1 s writing.")
    print(f"written {out}")


if __name__ == "__main__":
    main()
