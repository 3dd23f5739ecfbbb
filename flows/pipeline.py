"""The whole mission in one flow run: ner_flow and tags_flow as subflows, under one
MLflow parent run (experiment "pipeline") with each flow's run and its stage runs nested.

    python -m flows.pipeline                               # params.yaml as it is
    python -m flows.pipeline -S ner.train.epochs=5         # subflows with changes: DVC experiments

The parameters are params.yaml's ``ner`` and ``tags`` trees (``flows/forms.py``).
"""
from __future__ import annotations

import argparse
import contextlib
import json

from prefect import flow

from flows.forms import add_set_option, chosen_values, overrides_from, parse_sets, run_cli, top_form
from flows.ner import ner_flow
from flows.reporting import git_commit, publish_summary, run_label
from flows.runner import PIPELINE_RUN, origin_tags
from flows.tags import tags_flow
from flows.workspace import workspace_lock
from tasks.common.tracking import check_tracking_server, flow_run, log_metrics_tree
from tasks.tags.evaluation import COMPARED, methods

EXPERIMENT = "pipeline"
NerForm, TagsForm = top_form("ner"), top_form("tags")


@flow(name="pipeline", log_prints=True)
def pipeline_flow(ner: NerForm = NerForm(), tags: TagsForm = TagsForm()) -> dict:
    """NER and tag pipelines in one run. The fields show params.yaml; a subflow with
    changed values is a DVC experiment and leaves the workspace as it is."""
    given = {**overrides_from("ner", dict(ner)), **overrides_from("tags", dict(tags))}
    check_tracking_server()
    # Without overrides both subflows work in the workspace: hold it for the whole run.
    lock = contextlib.nullcontext() if given else workspace_lock("pipeline_flow")
    with lock, flow_run("pipeline_flow", EXPERIMENT, given, label=run_label("pipeline", given)) as (mlflow, run):
        # Each subflow's run records its effective params, dvc.lock and `reproduce` command.
        mlflow.set_tags({"git_commit": git_commit(), "overrides": json.dumps(given), **origin_tags()})
        token = PIPELINE_RUN.set((EXPERIMENT, run.info.run_id))
        try:
            ner_metrics = ner_flow(**dict(ner))
            tags_metrics = tags_flow(**dict(tags))
        finally:
            PIPELINE_RUN.reset(token)
        log_metrics_tree(mlflow, {"ner": {k: ner_metrics[k] for k in ("dev", "test")},
                                  "tags": {k: tags_metrics[k] for k in methods(tags_metrics)}})
        rows = [("NER test strict span F1", f"{ner_metrics['test']['f1']:.4f}"),
                ("NER dev strict span F1", f"{ner_metrics['dev']['f1']:.4f}")]
        rows += [(f"tags {name} {' / '.join(COMPARED)} (test mean over seeds)",
                  " / ".join(f"{tags_metrics[name][k]:.4f}" for k in COMPARED))
                 for name in methods(tags_metrics)]
        publish_summary("Pipeline results", rows, ("metric", "value"), run)
    return {"ner": ner_metrics, "tags": tags_metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=pipeline_flow.__doc__)
    add_set_option(parser)
    args = parser.parse_args()

    def start() -> None:
        overrides = parse_sets(args.sets)
        pipeline_flow(ner=chosen_values("ner", overrides), tags=chosen_values("tags", overrides))

    run_cli(start)


if __name__ == "__main__":
    main()
