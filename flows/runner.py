"""DVC stages as Prefect tasks, and the body every flow shares.

A run without overrides works in the workspace: each stage runs as ``dvc repro
--single-item STAGE`` in its own process, so the flow and a plain ``dvc repro`` share
one cache and one dvc.lock. DVC holds its repository lock only before and after a
stage's command, so two flows' stages with disjoint outputs can run at once (the
pipeline runs its NER and tag flows so); every DVC call here waits for that lock
instead of failing on it. A run with overrides is one DVC experiment
(``flows/experiments.py``) and never writes the workspace. Either way each stage's
MLflow run nests under the flow's run (its id is handed over in ``GNN_PARENT_RUN_ID``).
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.exceptions import TerminationSignal

from flows import experiments
from flows.processes import interrupt_children, keep_termination_signals
from flows.reporting import (git_commit, headline, log_plots_page, prefect_run_note, reproduce_command,
                             run_label)
from flows.workspace import resolve_params, workspace_lock
from tasks.common.files import read_json
from tasks.common.progress import ProgressEvent
from tasks.common.settings import PROJECT_ROOT, quiet_environment, settings
from tasks.common.tracking import EXPERIMENT_ENV, PARENT_ENV, check_tracking_server, tracking_uri


def origin_tags() -> dict[str, str]:
    """Which Prefect flow run made the run (the janitor ends the MLflow runs of a flow run
    that crashed: flows/cluster/janitor.py), with a link to it, and on a cluster worker
    which worker ran it."""
    worker = settings().worker
    return {**prefect_run_note(), **({"worker": worker} if worker else {})}


def stage_env(parent_run_id: str, experiment: str) -> dict[str, str]:
    quiet_environment()
    env = dict(os.environ)
    env.pop("MLFLOW_RUN_ID", None)  # would make the stage log into the parent run
    env.update({PARENT_ENV: parent_run_id, "MLFLOW_TRACKING_URI": tracking_uri(),
                "MLFLOW_EXPERIMENT_NAME": experiment, "PYTHONUNBUFFERED": "1"})
    # The stage runs `python -m tasks.x` through DVC: put this interpreter first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


INTERRUPTED_EXIT = 130  # a stage's exit on Ctrl-C or a passed-on SIGTERM (128 + SIGINT; tasks/common/stage.py)


class StageInterrupted(RuntimeError):
    """The stage stopped on an interrupt, as it should: not a failure of its own. What a
    subflow of a pipeline raises when the pipeline is cancelled or Ctrl-C'd, instead of a
    "failed" message with the stage's last lines."""


def _stream(cmd: list[str], env: dict[str, str], what: str, cwd: Path = PROJECT_ROOT) -> None:
    """Run a DVC command, mirroring its output into the Prefect log (and training
    epochs as a progress artifact); a failure raises with the output's tail."""
    keep_termination_signals()  # a cancel that lands in a finaliser still stops the stage
    logger = get_run_logger()
    logger.info("running %s", " ".join(cmd[2:]))
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    tail: list[str] = []
    progress = ProgressArtifacts()

    def show(line: str) -> None:
        nonlocal tail
        line = line.rstrip()
        event = ProgressEvent.parse(line)
        if event is not None:  # a stage's typed progress: for the artifact, not the log
            progress.update(event)
        elif line and not line.startswith(("I0000", "WARNING: All log messages", "E0000")):
            logger.info(line)
            tail = (tail + [line])[-20:]

    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            show(line)
    except KeyboardInterrupt:  # Ctrl-C: the terminal interrupted the stage too
        _last_words(proc, show)
        raise
    except TerminationSignal:  # SIGTERM to this process alone (Prefect's bridge raises it): no stage got it
        interrupt_children()
        _last_words(proc, show)
        raise
    if proc.wait() != 0:
        if any(line.endswith(f"exited with {INTERRUPTED_EXIT}") for line in tail[-3:]):  # DVC names the stage's exit
            raise StageInterrupted(f"{what} was interrupted: it left no output half-written, and DVC did not commit it")
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n" + "\n".join(tail))


def _last_words(proc: subprocess.Popen, show: Callable[[str], None], grace: float = 30.0) -> None:
    """The stage is stopping too (Ctrl-C in a terminal interrupts the whole process group;
    a SIGTERM is passed on to it as SIGINT): wait for it (up to ``grace`` seconds) and show
    what it says last (whether it left an output half-written), instead of exiting over it."""
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        get_run_logger().warning("the stage process (pid %d) is still running after the interrupt", proc.pid)
        return
    for line in proc.stdout:
        show(line)


@task(task_run_name="dvc repro {stage}")
def dvc_stage(stage: str, parent_run_id: str, experiment: str) -> None:
    """Run one DVC stage (``dvc repro --single-item``): DVC decides whether it is
    up to date, restores it from its cache, or runs it; the flow and ``dvc repro`` share
    one cache and one dvc.lock."""
    remote = settings().dvc_shared_remote
    env = stage_env(parent_run_id, experiment)
    # On a cluster worker (flows/cluster/): first look in the shared remote's run cache,
    # so a stage another worker already ran is pulled, not recomputed ...
    cmd = [sys.executable, "-m", "dvc", "--wait-for-lock", "repro", "--single-item",
           *(["--pull"] if remote else []), stage]
    _stream(cmd, env, f"stage {stage}")
    if remote:  # ... and only after the stage succeeded, share its outputs and run cache.
        get_run_logger().info("dvc push %s to remote %s: %d file(s) and run-cache record(s)", stage, remote,
                              share_outputs(stage, remote))


def workspace_repo():
    """The workspace's DVC repository, waiting for DVC's repository lock when another
    flow's stage holds it (as ``dvc --wait-for-lock`` does) instead of failing."""
    from dvc.repo import Repo

    return Repo(str(PROJECT_ROOT), _wait_for_lock=True)


def share_outputs(stage: str, remote: str) -> int:
    """Push ``stage``'s outputs and the run cache to ``remote``, so that ``dvc repro
    --pull`` elsewhere restores the stage instead of running it. ``dvc push --run-cache``
    alone pushes the run-cache records but not the files of ``cache: false`` outputs
    (metrics, plots) they name, and without those DVC runs the stage again; so the
    records' files are pushed too. Returns how many files and records were sent."""
    with workspace_repo() as repo:
        sent = repo.push(targets=[stage], remote=remote)
        records = repo.stage_cache.push(remote)
        for odb, objs in repo.stage_cache.get_used_objs(records).items():
            sent += len(repo.cloud.push(objs, remote=remote, odb=odb).transferred)
    return sent + len(records)


@task(task_run_name="dvc exp run {name}")
def dvc_experiment(name: str, overrides: dict[str, Any], target: str, parent_run_id: str, experiment: str) -> str:
    """Run the stages up to ``target`` as the DVC experiment ``name`` in a private clone
    of the workspace; returns the experiment's ref, now in the workspace repository."""
    env = {**stage_env(parent_run_id, experiment), EXPERIMENT_ENV: name}
    with experiments.private_clone(name) as clone:
        _stream(experiments.experiment_command(name, overrides, target), env, f"experiment {name}", cwd=clone)
        return experiments.fetch_experiment(clone, name)


def stale_stages(stages: tuple[str, ...]) -> set[str] | None:
    """The stages `dvc status` reports as changed (deps, params or outputs), from one
    call of DVC's Python API in this process (a `dvc status` process would cost ~0.7 s
    of start-up); None if it cannot tell (then every stage goes through `dvc repro`). A
    stage downstream of a changed one is not listed until that one has run, so the caller
    sends every stage from the first stale one on through `dvc repro`."""
    try:
        with workspace_repo() as repo:
            return set(repo.status(targets=list(stages)))
    except Exception as err:  # noqa: BLE001 - any DVC trouble: let `dvc repro` decide and report it
        get_run_logger().info("dvc status could not tell (%s): every stage goes through dvc repro", err)
        return None


@task(task_run_name="dvc repro {stage}")
def stage_up_to_date(stage: str) -> None:
    """What `dvc repro --single-item` would conclude, without starting DVC again."""
    get_run_logger().info("Stage '%s' didn't change, skipping (dvc status: up to date)", stage)


class ProgressArtifacts:
    """One Prefect progress artifact per training stage, moved by its progress events
    (train_sage's restarts for each seed: the event says which)."""

    def __init__(self) -> None:
        self._ids: dict[str, Any] = {}

    def update(self, event: ProgressEvent) -> None:
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        value, description = 100.0 * event.fraction, event.describe()
        if event.stage not in self._ids:
            self._ids[event.stage] = create_progress_artifact(
                value, key=f"{event.stage.replace('_', '-')}-progress", description=description)
        else:
            update_progress_artifact(self._ids[event.stage], value, description=description)


@dataclass(frozen=True)
class ParentRun:
    """The pipeline flow's run, handed to the flows it runs: their MLflow runs nest under
    ``run_id`` in ``experiment``, the pipeline has checked the tracking server, and it
    holds the workspace lock when it runs without overrides (``holds_workspace``)."""

    experiment: str
    run_id: str
    holds_workspace: bool


def run_pipeline(name: str, section: str, stages: tuple[str, ...], overrides: dict[str, Any],
                 metrics_file: str, register=None, parent: ParentRun | None = None) -> tuple[dict, Any]:
    """The body every flow shares: validate params (with overrides) and reach the
    tracking server before any work, open the MLflow parent run, run the stages (in the
    workspace, or as a DVC experiment when there are overrides), log the final metrics to
    the parent and, for a workspace run, ``register(run_id)`` the model (a Prefect task
    returning (model name, version, whether new)) still under the workspace lock.
    ``parent``: the pipeline run this flow runs in, if any. Returns (metrics, MLflow run)."""
    from tasks.common.params import flatten

    params = resolve_params(overrides)
    if parent is None:  # on its own (a pipeline checked it for its subflows)
        check_tracking_server()
    for name_removed in experiments.remove_abandoned_clones():
        print(f"removed the private clone of experiment {name_removed}: its flow process had been killed")
    experiment, parent_id = (parent.experiment, parent.run_id) if parent else (name, None)
    tree = flatten({section: getattr(params, section).model_dump()})
    if overrides:
        return _run_experiment(name, stages, overrides, metrics_file, experiment, parent_id, tree)
    held = parent is not None and parent.holds_workspace
    with contextlib.nullcontext() if held else workspace_lock(f"{name}_flow"):
        return _run_in_workspace(name, stages, metrics_file, experiment, parent_id, tree, register)


def log_headline(mlflow, flow: str, metrics: dict) -> None:
    values, tags = headline(flow, metrics)
    mlflow.log_metrics(values)
    mlflow.set_tags(tags)


def _run_in_workspace(name, stages, metrics_file, experiment, parent, tree, register):
    from tasks.common.tracking import flow_run, log_metrics_tree

    commit = git_commit()
    with flow_run(f"{name}_flow", experiment, tree, parent, run_label(name, {})) as (mlflow, run):
        # Enough to redo this run without Prefect: the commit and the command; dvc.lock
        # (logged below) pins every dependency's hash.
        mlflow.set_tags({"git_commit": commit, "overrides": "{}",
                         "reproduce": reproduce_command({}, stages[-1], commit), **origin_tags()})
        stale = stale_stages(stages)
        reached_stale = stale is None  # from the first stale stage on, DVC decides
        for stage in stages:  # in order; a failed stage fails the flow
            reached_stale = reached_stale or stage in stale
            if reached_stale:
                dvc_stage(stage, run.info.run_id, experiment)
            else:  # up to date and nothing before it in this flow has run
                stage_up_to_date(stage)
        metrics = read_json(PROJECT_ROOT / metrics_file)
        log_metrics_tree(mlflow, metrics)
        log_headline(mlflow, name, metrics)
        mlflow.log_artifact(str(PROJECT_ROOT / metrics_file))
        mlflow.log_artifact(str(PROJECT_ROOT / "dvc.lock"))
        log_plots_page(mlflow)
        if register is not None:
            model, version, new = register(run.info.run_id)
            print(f"model registry: {model} version {version}" + ("" if new else " (unchanged, not registered again)"))
    return metrics, run


def _run_experiment(name, stages, overrides, metrics_file, experiment, parent, tree):
    """The stages as one DVC experiment: the workspace is never written, so no lock."""
    from tasks.common.tracking import flow_run, log_metrics_tree

    commit = git_commit()
    exp_name = experiments.experiment_name(name)
    with flow_run(f"{name}_flow", experiment, tree, parent, run_label(name, overrides)) as (mlflow, run):
        mlflow.set_tags({"git_commit": commit, "overrides": json.dumps(overrides), "dvc_experiment": exp_name,
                         "reproduce": reproduce_command(overrides, stages[-1], commit), **origin_tags()})
        ref = dvc_experiment(exp_name, overrides, stages[-1], run.info.run_id, experiment)
        mlflow.set_tag("dvc_experiment_ref", ref)
        metrics = json.loads(experiments.read_from_experiment(ref, metrics_file))
        log_metrics_tree(mlflow, metrics)
        log_headline(mlflow, name, metrics)
        mlflow.log_text(json.dumps(metrics, indent=2), metrics_file)
        mlflow.log_text(experiments.read_from_experiment(ref, "dvc.lock"), "dvc.lock")
        print(experiments.adopt_hint(exp_name))
        print("model registry: not registered (an experiment; the registry holds the workspace's models: "
              f"`dvc exp apply {exp_name}`, commit, and a plain run registers it)")
    return metrics, run
