"""Article graphs on disk (CSR arrays in .npz) and their summary statistics, and the
two graph stages' work: projection (with components) and RWR sampling."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tasks.common import paths
from tasks.common.files import save_npz, write_csv, write_json
from tasks.common.params import TagsParams
from tasks.tags.graph import Graph, components, incidence, induced_subgraph, jaccard_projection, rwr_sample, undirected
from tasks.tags.tables import load_articles, load_memberships

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


def membership_incidence(members: pd.DataFrame, n_articles: int) -> tuple[sp.csr_matrix, pd.Index]:
    """Article x list incidence of memberships (``article``, ``list`` columns), and the
    list names by column (first-seen order)."""
    list_ids, lists = pd.factorize(members["list"])
    return incidence(members["article"].to_numpy(), list_ids, n_articles, len(lists)), lists


def article_incidence() -> tuple[sp.csr_matrix, pd.Index]:
    """The incidence of the imported tables."""
    return membership_incidence(load_memberships(), len(load_articles(columns=["article"])))


def project(params: TagsParams) -> dict:
    """Jaccard projection of the imported memberships -> graph.npz, metrics, component plot."""
    B, _ = article_incidence()
    p = params.projection
    t0 = time.perf_counter()
    S = jaccard_projection(B, p.similarity_cutoff, p.degree_cutoff, p.top_k, p.max_list_size)
    seconds = time.perf_counter() - t0
    g = undirected(S)
    stats = {"directed_relationships": int(S.nnz), "projection_seconds": seconds, **graph_stats(g)}
    save_graph(paths.GRAPH, g)
    _, labels = components(g)
    sizes = np.sort(np.bincount(labels))[::-1]
    write_csv(paths.COMPONENT_SIZES, [(i + 1, int(s)) for i, s in enumerate(sizes[:50])], ("rank", "size"))
    write_json(paths.GRAPH_METRICS, stats)
    print(f"{stats['directed_relationships']} similarity relationships ({stats['undirected_edges']} undirected "
          f"edges) in {seconds:.2f}s; {stats['components']} components, largest {stats['largest_component']}")
    return stats


def sample(params: TagsParams) -> dict:
    """Random walk with restarts over graph.npz -> the induced subgraph in sample.npz."""
    g, _ = load_graph(paths.GRAPH)
    s = params.sampling
    nodes, starts = rwr_sample(g, s.sampling_ratio, s.restart_probability, s.seed, s.start_node)
    sub = induced_subgraph(g, nodes)
    save_graph(paths.SAMPLE, sub, nodes)
    stats = {"sampled_nodes": int(len(nodes)), "ratio": len(nodes) / g.n, "start_nodes": starts, **graph_stats(sub)}
    write_json(paths.SAMPLE_METRICS, stats)
    print(f"sampled {len(nodes)} of {g.n} articles ({stats['ratio']:.1%}) from {starts} start node(s); "
          f"{stats['undirected_edges']} induced edges")
    return stats
