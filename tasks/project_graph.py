"""Stage project_graph: article x list memberships -> Jaccard similarity graph
(GDS Node Similarity semantics, sparse products) and its weakly connected components."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tasks.graph import Graph, components, incidence, jaccard_projection, undirected
from tasks.io import run_main, save_npz, write_json, write_text
from tasks.params import TagsParams, load_params
from tasks.paths import ARTICLES, GRAPH

OUT = GRAPH
METRICS = Path("metrics/tags_graph.json")
PLOTS = Path("plots/tags")
PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)


def save_graph(path: Path, g: Graph, nodes: np.ndarray | None = None) -> None:
    arrays = {"indptr": g.adj.indptr, "indices": g.adj.indices, "weights": g.adj.data.astype(np.float32)}
    if nodes is not None:
        arrays["nodes"] = nodes
    save_npz(path, compressed=False, **arrays)  # large; compression costs more than it saves


def load_graph(path: Path) -> tuple[Graph, np.ndarray | None]:
    with np.load(path, allow_pickle=False) as z:
        n = len(z["indptr"]) - 1
        adj = sp.csr_matrix((z["weights"], z["indices"], z["indptr"]), shape=(n, n))
        return Graph(adj), (z["nodes"] if "nodes" in z.files else None)


def graph_stats(g: Graph) -> dict:
    count, labels = components(g)
    sizes = np.bincount(labels)
    isolated = int((g.degrees == 0).sum())
    weights = g.adj.data
    return {"nodes": g.n, "undirected_edges": int(g.adj.nnz // 2), "isolated_nodes": isolated,
            "components": int(count), "components_without_isolated": int(count - isolated),
            "largest_component": int(sizes.max()),
            "jaccard_percentiles": {f"p{p}": float(np.percentile(weights, p)) if len(weights) else 0.0
                                    for p in PERCENTILES}}


def project(params: TagsParams, out: Path = OUT) -> dict:
    articles = pd.read_parquet(ARTICLES / "articles.parquet", columns=["article"])
    members = pd.read_parquet(ARTICLES / "memberships.parquet")
    list_ids, lists = pd.factorize(members["list"])
    B = incidence(members["article"].to_numpy(), list_ids, len(articles), len(lists))
    p = params.projection
    t0 = time.perf_counter()
    S = jaccard_projection(B, p.similarity_cutoff, p.degree_cutoff, p.top_k, p.max_list_size)
    seconds = time.perf_counter() - t0
    g = undirected(S)
    stats = {"directed_relationships": int(S.nnz), "projection_seconds": seconds, **graph_stats(g)}
    save_graph(out, g)
    _, labels = components(g)
    sizes = np.sort(np.bincount(labels))[::-1]
    write_text(PLOTS / "component_sizes.csv", "rank,size\n" + "".join(f"{i + 1},{s}\n" for i, s in enumerate(sizes[:50])))
    write_json(METRICS, stats)
    print(f"{stats['directed_relationships']} similarity relationships ({stats['undirected_edges']} undirected edges) "
          f"in {seconds:.2f}s; {stats['components']} components, largest {stats['largest_component']}")
    return stats


def main() -> None:
    from tasks.params import flatten
    from tasks.tracking import log_metrics_tree, stage_run

    params = load_params().tags
    with stage_run("project_graph", "tags", flatten({"tags": {"projection": params.projection.model_dump()}})) as mlflow:
        stats = project(params)
        log_metrics_tree(mlflow, stats)
        mlflow.log_artifact(str(METRICS))


if __name__ == "__main__":
    run_main(main)
