"""The whole mission in one flow run: ner_flow and tags_flow as subflows, side by side,
under one MLflow parent run (experiment "pipeline") with each flow's run and its stage
runs nested.

    python -m flows.pipeline                               # params.yaml as it is
    python -m flows.pipeline -S ner.train.epochs=5         # subflows with changes: DVC experiments

The parameters are params.yaml's ``ner`` and ``tags`` trees (``flows/forms.py``).
"""
import argparse
import contextlib
import json
from collections.abc import Callable

from prefect import Flow, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import TerminationSignal
from prefect.futures import wait
from prefect.utilities.annotations import quote

from flows.forms import (FlowForms, add_set_option, chosen_values, entrypoint_getattr, module_flow, overrides_from,
                         parse_sets, run_cli)
from flows.ner import build_ner_flow
from flows.processes import interrupt_children
from flows.reporting import git_commit, publish_summary, run_label
from flows.runner import ParentRun, origin_tags
from flows.tags import build_tags_flow
from flows.workspace import workspace_lock
from tasks.common.tracking import check_tracking_server, flow_run, log_metrics_tree
from tasks.tags.evaluation import COMPARED, methods

EXPERIMENT = "pipeline"


def build_pipeline_flow(forms: FlowForms) -> Flow:
    """The pipeline flow with ``forms``' Run form; its subflows are built from the same
    forms, so the sections it hands them are of their classes."""
    NerForm, TagsForm = forms.top("ner"), forms.top("tags")

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
            parent = ParentRun(EXPERIMENT, run.info.run_id, holds_workspace=not given)
            ner_metrics, tags_metrics = side_by_side((build_ner_flow(forms, parent), dict(ner)),
                                                     (build_tags_flow(forms, parent), dict(tags)))
            log_metrics_tree(mlflow, {"ner": {k: ner_metrics[k] for k in ("dev", "test")},
                                      "tags": {k: tags_metrics[k] for k in methods(tags_metrics)}})
            publish_summary("Pipeline results", _summary_rows(ner_metrics, tags_metrics), ("metric", "value"), run)
        return {"ner": ner_metrics, "tags": tags_metrics}

    return module_flow(pipeline_flow, "pipeline")


@task(task_run_name="run {flow.name}", cache_policy=NO_CACHE)
def subflow(flow: Flow, values: dict) -> dict:
    """One subflow run as a task, so that the pipeline can submit two (a flow called in a
    task nests under it)."""
    return flow(**values)


def side_by_side(*runs: tuple[Flow, dict]) -> list[dict]:
    """Run the subflows at once, each in its own thread, and return their results in
    order. Why: a training stage leaves part of the 2 cores idle (`make run` one stage at
    a time used 145-157 % CPU), the NER and tag stages share no output, and DVC holds its
    repository lock only around each stage's command (flows/runner.py). Waits for every
    subflow: one that fails fails the pipeline once the others have ended, so their
    finished stages are kept (DVC caches them)."""
    futures = [subflow.submit(flow, quote(values)) for flow, values in runs]  # quote: the forms as they are
    try:
        wait(futures)
    except TerminationSignal:  # SIGTERM to this process alone: its stages run in the subflows' threads
        interrupt_children()
        wait(futures, timeout=60)  # their stages stop, and the subflows end their runs
        raise
    return [future.result() for future in futures]


def _summary_rows(ner_metrics: dict, tags_metrics: dict) -> list[tuple[str, str]]:
    rows = [("NER test strict span F1", f"{ner_metrics['test']['f1']:.4f}"),
            ("NER dev strict span F1", f"{ner_metrics['dev']['f1']:.4f}")]
    return rows + [(f"tags {name} {' / '.join(COMPARED)} (test mean over seeds)",
                    " / ".join(f"{tags_metrics[name][k]:.4f}" for k in COMPARED)) for name in methods(tags_metrics)]


# flows/pipeline.py:pipeline_flow, the deployments' entrypoint: built when looked up
__getattr__ = entrypoint_getattr(__name__, "pipeline_flow", build_pipeline_flow)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_set_option(parser)
    args = parser.parse_args()

    def prepare() -> Callable[[], object]:
        overrides = parse_sets(args.sets)
        values = {"ner": chosen_values("ner", overrides), "tags": chosen_values("tags", overrides)}
        flow = build_pipeline_flow(FlowForms.read())
        return lambda: flow(**values)

    run_cli(prepare)


if __name__ == "__main__":
    main()
