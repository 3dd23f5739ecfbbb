"""Stage project_graph: article x list memberships -> Jaccard similarity graph (GDS Node
Similarity semantics) and its weakly connected components."""
from __future__ import annotations

from tasks.common.stage import run_stage
from tasks.tags.graph_io import project


def main() -> None:
    run_stage("project_graph", lambda params, mlflow: project(params.tags))


if __name__ == "__main__":
    main()
