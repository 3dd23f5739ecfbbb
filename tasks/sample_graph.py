"""Stage sample_graph: random walk with restarts sample of the article graph (GDS
``graph.sample.rwr`` semantics) and the subgraph induced by the visited articles."""
from __future__ import annotations

from tasks.common.stage import run_stage
from tasks.tags.graph_io import sample


def main() -> None:
    run_stage("sample_graph", lambda params, mlflow: sample(params.tags))


if __name__ == "__main__":
    main()
