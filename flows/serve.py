"""Serve the three flows as Prefect deployments, so the Prefect UI can run them.

    python -m flows.serve        # normally started by `make ui` (flows/ui.py)

Each deployment's form is generated from the flow's typed signature: a preset is a
drop-down, epochs are integers, empty fields keep params.yaml. ``limit=1`` makes this
process run one flow run at a time, so a second run pressed in the UI waits in the queue
(and the workspace lock in flows/common.py refuses one started elsewhere).
"""
from __future__ import annotations

DEPLOYMENTS = ("ner", "tags", "pipeline")


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
        limit=1,
        print_starting_message=True,
    )


if __name__ == "__main__":
    main()
