"""Stage sample_graph: random walk with restarts sample of the article graph (GDS
``graph.sample.rwr`` semantics) and the subgraph induced by the visited articles."""
from __future__ import annotations

from pathlib import Path

from tasks.graph import induced_subgraph, rwr_sample
from tasks.io import run_main, write_json
from tasks.params import TagsParams, load_params
from tasks.paths import GRAPH, SAMPLE
from tasks.project_graph import graph_stats, load_graph, save_graph

OUT = SAMPLE
METRICS = Path("metrics/tags_sample.json")


def sample(params: TagsParams, out: Path = OUT) -> dict:
    g, _ = load_graph(GRAPH)
    s = params.sampling
    nodes, starts = rwr_sample(g, s.sampling_ratio, s.restart_probability, s.seed, s.start_node)
    sub = induced_subgraph(g, nodes)
    save_graph(out, sub, nodes)
    stats = {"sampled_nodes": int(len(nodes)), "ratio": len(nodes) / g.n, "start_nodes": starts, **graph_stats(sub)}
    write_json(METRICS, stats)
    print(f"sampled {len(nodes)} of {g.n} articles ({stats['ratio']:.1%}) from {starts} start node(s); "
          f"{stats['undirected_edges']} induced edges")
    return stats


def main() -> None:
    from tasks.params import flatten
    from tasks.tracking import log_metrics_tree, stage_run

    params = load_params().tags
    with stage_run("sample_graph", "tags", flatten({"tags": {"sampling": params.sampling.model_dump()}})) as mlflow:
        log_metrics_tree(mlflow, sample(params))
        mlflow.log_artifact(str(METRICS))


if __name__ == "__main__":
    run_main(main)
