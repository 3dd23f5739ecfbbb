"""Serve the three flows as Prefect deployments, so the Prefect UI can run them.

    python -m flows.serve        # normally started by `make ui` (flows/ui.py)

Each deployment's Run form is generated from the flow's parameters, the params.yaml
sections of its stages (``flows/forms.py``): current values, descriptions, ranges and
drop-downs. This process runs up to ``GNN_SERVE_LIMIT`` (default 2) flow runs at once;
more wait in the queue. Runs with overrides are DVC experiments in their own temporary
copies, so they run side by side; a run without overrides needs the workspace, and a
second one while the first holds it is refused with the holder named (flows/workspace.py).
"""
from __future__ import annotations

import os


def main() -> None:
    from prefect import serve

    from flows.ner import ner_flow
    from flows.pipeline import pipeline_flow
    from flows.tags import tags_flow

    serve(
        ner_flow.to_deployment(name="ner", description="GCN NER on CoNLL-2003: prepare_ner -> train_ner",
                               tags=["ner"]),
        tags_flow.to_deployment(name="tags", description="GraphSAGE-enhanced tag classification on citeulike-t",
                                tags=["tags"]),
        pipeline_flow.to_deployment(name="pipeline", description="The whole mission: ner then tags",
                                    tags=["pipeline"]),
        limit=int(os.environ.get("GNN_SERVE_LIMIT", "2")),
        print_starting_message=True,
    )


if __name__ == "__main__":
    main()
