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

from tasks.common.settings import settings


# name -> (entrypoint, description): served here for `make ui`, and deployed to the work
# pool by `make cluster` (flows/cluster/deploy.py).
DEPLOYMENTS = {
    "ner": ("flows/ner.py:ner_flow", "GCN NER on CoNLL-2003: prepare_ner -> train_ner"),
    "tags": ("flows/tags.py:tags_flow", "GraphSAGE-enhanced tag classification on citeulike-t"),
    "pipeline": ("flows/pipeline.py:pipeline_flow", "The whole mission: ner and tags side by side"),
}


def load_flows() -> dict:
    """The flow of each deployment, by name, with Run forms from params.yaml as it is now."""
    from flows.forms import FlowForms
    from flows.ner import build_ner_flow
    from flows.pipeline import build_pipeline_flow
    from flows.tags import build_tags_flow

    forms = FlowForms.read()
    return {"ner": build_ner_flow(forms), "tags": build_tags_flow(forms), "pipeline": build_pipeline_flow(forms)}


def main() -> None:
    from prefect import serve

    flows = load_flows()
    serve(
        *(flows[name].to_deployment(name=name, description=description, tags=[name])
          for name, (_, description) in DEPLOYMENTS.items()),
        limit=settings().serve_limit,
        print_starting_message=True,
    )


if __name__ == "__main__":
    main()
