"""MLflow tracking shared by every stage and flow.

A flow starts one parent run and hands its id to the stage processes through
``GNN_PARENT_RUN_ID`` (never ``MLFLOW_RUN_ID``, which would make the stage log *into*
the parent). A stage run by plain ``dvc repro`` has no parent and logs a top-level run.
The default store is a SQLite file at the project root, so no server is needed.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

from tasks.common.settings import PROJECT_ROOT, env_name, quiet_environment, settings

PARENT_ENV = env_name("parent_run_id")  # GNN_PARENT_RUN_ID
EXPERIMENT_ENV = env_name("dvc_experiment")  # set by a flow run that is a DVC experiment
EXPERIMENT_KIND = "mlflow.experimentKind"


def tracking_uri() -> str:
    return settings().mlflow_tracking_uri or f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


class TrackingUnavailable(RuntimeError):
    """The MLflow tracking server does not answer."""


def check_tracking_server(timeout: float = 5.0) -> None:
    """Fail fast, naming the URI, when an HTTP tracking server does not answer (MLflow's
    own client would retry for minutes). A file or SQLite store needs no check."""
    uri = tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as reply:
            if reply.status == 200:
                return
            problem = f"HTTP {reply.status}"
    except (urllib.error.URLError, OSError) as err:
        problem = str(getattr(err, "reason", err))
    raise TrackingUnavailable(f"MLflow tracking server {uri} is not reachable ({problem}); start it "
                              f"(make ui) or set MLFLOW_TRACKING_URI to one that runs") from None


def _setup(experiment: str):
    quiet_environment()
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    exp = mlflow.set_experiment(settings().mlflow_experiment_name or experiment)
    if exp.tags.get(EXPERIMENT_KIND) != "custom_model_development":
        # Without it the MLflow 3 UI opens an experiment on its GenAI trace overview
        # instead of the runs table people compare runs in.
        mlflow.set_experiment_tag(EXPERIMENT_KIND, "custom_model_development")
    return mlflow


def _clean_params(params: dict[str, Any]) -> dict[str, str]:
    # MLflow caps a param value at 6000 characters; lists become their repr.
    return {k: str(v)[:6000] for k, v in params.items()}


@contextmanager
def stage_run(stage: str, experiment: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
    """One MLflow run for one stage, nested under the flow's run when there is one."""
    mlflow = _setup(experiment)
    config = settings()
    parent = config.parent_run_id or None
    tags = {"stage": stage, "kind": "stage", **_owner_tags()}
    if config.dvc_experiment:
        tags["dvc_experiment"] = config.dvc_experiment
    with mlflow.start_run(run_name=stage, parent_run_id=parent, tags=tags), _releasing_reads_on_interrupt():
        if params:
            mlflow.log_params(_clean_params(params))
        yield mlflow


@contextmanager
def _releasing_reads_on_interrupt() -> Iterator[None]:
    """Ctrl-C can land while MLflow reads its SQLite store. The interrupted statement,
    kept alive by the locals of the traceback's frames, keeps its read lock; ending the
    run as FAILED (another connection of this process) then waited the store's 20 s
    busy timeout and failed, and so did the flow process's reads. Clearing those frames
    finalises the statement before the run ends."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        import gc
        import traceback

        traceback.clear_frames(interrupt.__traceback__)
        gc.collect()
        raise


@contextmanager
def flow_run(name: str, experiment: str, params: dict[str, Any] | None = None,
             parent_run_id: str | None = None, label: str | None = None) -> Iterator[Any]:
    """The parent run of a flow run (itself nested when a pipeline runs the flow), tagged
    ``flow=name`` and called ``label`` (what differs in this run); yields ``(mlflow, run)``."""
    mlflow = _setup(experiment)
    mark_dead_runs_failed(mlflow)
    with mlflow.start_run(run_name=label or name, parent_run_id=parent_run_id, nested=parent_run_id is not None,
                          tags={"kind": "flow", "flow": name, **_owner_tags()}) as run, \
            _releasing_reads_on_interrupt():
        if params:
            mlflow.log_params(_clean_params(params))
        yield mlflow, run


def _owner_tags() -> dict[str, str]:
    import socket

    return {"host": socket.gethostname(), "pid": str(os.getpid())}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_dead_runs_failed(mlflow: Any) -> list[str]:
    """A process killed outright (SIGKILL, power loss) cannot end its MLflow run, which
    would then show RUNNING for ever. Before a flow run starts, end as FAILED every
    RUNNING run started on this host by a process that no longer exists."""
    import socket

    client = mlflow.MlflowClient()
    host = socket.gethostname()
    ids = [e.experiment_id for e in client.search_experiments()]
    if not ids:
        return []
    ended = []
    for run in client.search_runs(ids, f"attributes.status = 'RUNNING' and tags.host = '{host}'", max_results=500):
        pid = run.data.tags.get("pid", "")
        if pid.isdigit() and not _alive(int(pid)):
            client.set_tag(run.info.run_id, "ended_by", f"a later flow run: process {pid} no longer exists")
            client.set_terminated(run.info.run_id, status="FAILED")
            ended.append(run.info.run_id)
    if ended:
        print(f"marked {len(ended)} MLflow run(s) of killed processes FAILED")
    return ended


def log_metrics_tree(mlflow: Any, tree: dict[str, Any], prefix: str = "", step: int | None = None) -> None:
    """Log every number in a nested dict as ``a.b.c`` (MLflow allows dots in names)."""
    flat: dict[str, float] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        for key, value in node.items():
            name = f"{path}{key}"
            if isinstance(value, dict):
                walk(value, name + ".")
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                flat[name] = float(value)

    walk(tree, prefix)
    if flat:
        mlflow.log_metrics(flat, step=step)
