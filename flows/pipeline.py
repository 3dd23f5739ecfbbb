"""The whole mission in one flow run: ner_flow and tags_flow as subflows, under one
MLflow parent run (experiment "pipeline") with each flow's run and its stage runs nested.

    python -m flows.pipeline
"""
from __future__ import annotations

import argparse
import json
from typing import Optional

from prefect import flow

from flows.reporting import git_commit, publish_summary
from flows.runner import PIPELINE_RUN
from flows.workspace import workspace_lock
from flows.ner import ner_flow
from flows.tags import tags_flow
from tasks.common.params import Preset
from tasks.common.tracking import flow_run, log_metrics_tree

EXPERIMENT = "pipeline"


@flow(name="pipeline", log_prints=True)
def pipeline_flow(ner_preset: Optional[Preset] = None, ner_epochs: Optional[int] = None,
                  sage_epochs: Optional[int] = None, min_count: Optional[int] = None) -> dict:
    """NER and tag pipelines in one run. Empty fields keep params.yaml."""
    given = {k: v for k, v in {"ner_preset": ner_preset, "ner_epochs": ner_epochs, "sage_epochs": sage_epochs,
                               "min_count": min_count}.items() if v is not None}
    with workspace_lock("pipeline_flow"), flow_run("pipeline_flow", EXPERIMENT, given) as (mlflow, run):
        # Each subflow's run records its effective params, dvc.lock and `reproduce` command.
        mlflow.set_tags({"git_commit": git_commit(), "overrides": json.dumps(given)})
        token = PIPELINE_RUN.set((EXPERIMENT, run.info.run_id))
        try:
            ner = ner_flow(preset=ner_preset, epochs=ner_epochs)
            tags = tags_flow(epochs=sage_epochs, min_count=min_count)
        finally:
            PIPELINE_RUN.reset(token)
        log_metrics_tree(mlflow, {"ner": {k: ner[k] for k in ("dev", "test")},
                                  "tags": {k: tags[k] for k in ("text", "graphsage", "concat")}})
        rows = [("NER test strict span F1", f"{ner['test']['f1']:.4f}"),
                ("NER dev strict span F1", f"{ner['dev']['f1']:.4f}")]
        rows += [(f"tags {name} macro precision / macro F1",
                  f"{tags[name]['macro_precision']:.4f} / {tags[name]['macro_f1']:.4f}")
                 for name in ("text", "graphsage", "concat")]
        publish_summary("Pipeline results", rows, ("metric", "value"), run)
    return {"ner": ner, "tags": tags}


def main() -> None:
    parser = argparse.ArgumentParser(description=pipeline_flow.__doc__)
    parser.add_argument("--ner-preset", choices=["seed_readme", "seed_train", "default"])
    for name in ("ner_epochs", "sage_epochs", "min_count"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, dest=name)
    pipeline_flow(**vars(parser.parse_args()))


if __name__ == "__main__":
    main()
