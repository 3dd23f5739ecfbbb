"""What every flow shares: parameter overrides, DVC stages as Prefect tasks, the
MLflow parent run."""
from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterator

import yaml
from prefect import get_run_logger, task

from tasks.params import PARAMS_FILE, Params, apply_overrides, load_params, validate_params
from tasks.tracking import PARENT_ENV, PROJECT_ROOT, quiet_environment, tracking_uri


class WorkspaceBusy(RuntimeError):
    """Another flow run holds this workspace."""


LOCK_FILE = PROJECT_ROOT / ".cache" / "workspace.lock"
_held = 0  # re-entrant within one process: a pipeline flow runs its subflows under its lock


@contextmanager
def workspace_lock(flow: str) -> Iterator[None]:
    """One flow run per workspace at a time: a second one is refused at once with a
    message naming the holder, before it touches params.yaml or any stage."""
    global _held
    if _held:
        _held += 1
        try:
            yield
        finally:
            _held -= 1
        return
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise WorkspaceBusy(f"another flow run is using this workspace ({holder}); wait for it to finish "
                                f"or stop it, then start this one again") from None
        f.seek(0)
        f.truncate()
        f.write(f"flow {flow}, pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        f.flush()
        _held = 1
        try:
            yield
        finally:
            _held = 0
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def _backup_path() -> Path:
    return PROJECT_ROOT / ".cache" / "params.yaml.before-overrides"


def restore_interrupted_overrides() -> bool:
    """If a flow run with overrides was killed before it could restore params.yaml (a
    SIGKILL skips ``finally``), put the user's file back. Called under the workspace lock."""
    backup = _backup_path()
    if not backup.is_file():
        return False
    (PROJECT_ROOT / PARAMS_FILE).write_text(backup.read_text(encoding="utf-8"), encoding="utf-8")
    backup.unlink()
    print(f"restored {PARAMS_FILE} left overridden by an interrupted flow run")
    return True


@contextmanager
def effective_params(overrides: dict[str, Any]) -> Iterator[Params]:
    """Validate ``params.yaml`` with the flow's overrides before any work.

    Design: overrides are written to params.yaml only for the duration of the flow run
    (under the workspace lock), so DVC sees and dvc.lock records exactly what ran. The
    user's file is then restored byte for byte (from a backup in .cache/ if the run was
    killed), so params.yaml stays the one source of truth: after a UI run `dvc status`
    names the stages that differ, and the next plain `dvc repro` brings them back to
    params.yaml (from DVC's run cache when that configuration ran before).
    """
    path = PROJECT_ROOT / PARAMS_FILE
    restore_interrupted_overrides()
    overrides = {k: v for k, v in overrides.items() if v is not None}
    params = load_params(path)
    if not overrides:
        yield params
        return
    original = path.read_text(encoding="utf-8")
    raw = apply_overrides(yaml.safe_load(original) or {}, overrides)
    params = validate_params(raw, f"{path} with overrides {overrides}")
    backup = _backup_path()
    backup.parent.mkdir(parents=True, exist_ok=True)
    backup.write_text(original, encoding="utf-8")
    try:
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        yield params
    finally:
        path.write_text(original, encoding="utf-8")
        backup.unlink(missing_ok=True)


def reproduce_command(overrides: dict[str, Any], target: str, commit: str) -> str:
    """The shell command that re-runs a flow run's stages with DVC alone."""
    def value(v: Any) -> str:
        return v if isinstance(v, str) else json.dumps(v).replace(" ", "")

    sets = " ".join(f"-S '{key}={value(v)}'" for key, v in sorted(overrides.items()))
    checkout = f"git checkout {commit.removesuffix('-dirty')} && " if commit != "unknown" else ""
    return f"{checkout}dvc exp run {sets + ' ' if sets else ''}{target}"


def stage_env(parent_run_id: str, experiment: str) -> dict[str, str]:
    quiet_environment()
    env = dict(os.environ)
    env.pop("MLFLOW_RUN_ID", None)  # would make the stage log into the parent run
    env.update({PARENT_ENV: parent_run_id, "MLFLOW_TRACKING_URI": tracking_uri(),
                "MLFLOW_EXPERIMENT_NAME": experiment, "PYTHONUNBUFFERED": "1"})
    # The stage runs `python -m tasks.x` through DVC: put this interpreter first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@task(task_run_name="dvc repro {stage}")
def dvc_stage(stage: str, parent_run_id: str, experiment: str) -> None:
    """Run one DVC stage (``dvc repro --single-item``): DVC decides whether it is
    up to date, restores it from its cache, or runs it; the flow and ``dvc repro`` share
    one cache and one dvc.lock."""
    logger = get_run_logger()
    cmd = [sys.executable, "-m", "dvc", "repro", "--single-item", stage]
    logger.info("running %s", " ".join(cmd[2:]))
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=stage_env(parent_run_id, experiment),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    tail: list[str] = []
    progress = None
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if line and not line.startswith(("I0000", "WARNING: All log messages", "E0000")):
            logger.info(line)
            tail = (tail + [line])[-20:]
            progress = _report_progress(stage, line, progress)
    if proc.wait() != 0:
        raise RuntimeError(f"stage {stage} failed (exit {proc.returncode}):\n" + "\n".join(tail))


def stale_stages(stages: tuple[str, ...]) -> set[str] | None:
    """The stages `dvc status` reports as changed (deps, params or outputs), from one
    DVC call; None if it cannot tell (then every stage goes through `dvc repro`). A stage
    downstream of a changed one is not listed until that one has run, so the caller
    sends every stage from the first stale one on through `dvc repro`."""
    proc = subprocess.run([sys.executable, "-m", "dvc", "status", "--json", *stages], cwd=PROJECT_ROOT,
                          capture_output=True, text=True)
    try:
        return set(json.loads(proc.stdout)) if proc.returncode == 0 else None
    except ValueError:
        return None


@task(task_run_name="dvc repro {stage}")
def stage_up_to_date(stage: str) -> None:
    """What `dvc repro --single-item` would conclude, without starting DVC again."""
    get_run_logger().info("Stage '%s' didn't change, skipping (dvc status: up to date)", stage)


_EPOCH = re.compile(r"^epoch (\d+)/(\d+):")


def _report_progress(stage: str, line: str, artifact_id):
    """Training stages print ``epoch k/N: ...``; mirror it as a Prefect progress artifact."""
    from prefect.artifacts import create_progress_artifact, update_progress_artifact

    match = _EPOCH.match(line)
    if not match:
        return artifact_id
    done, total = int(match.group(1)), int(match.group(2))
    value = 100.0 * done / total
    description = f"{stage}: {line}"
    if artifact_id is None:
        return create_progress_artifact(value, key=f"{stage.replace('_', '-')}-progress", description=description)
    update_progress_artifact(artifact_id, value, description=description)
    return artifact_id


def git_commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    commit = proc.stdout.strip() or "unknown"
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def read_json(path: str | Path) -> dict:
    return json.loads((PROJECT_ROOT / path).read_text(encoding="utf-8"))


# Set by the pipeline flow so the flows it runs nest their MLflow runs under its run.
PIPELINE_RUN: ContextVar[tuple[str, str] | None] = ContextVar("pipeline_run", default=None)


def mlflow_run_url(experiment_id: str, run_id: str) -> str:
    ui = os.environ.get("GNN_MLFLOW_UI", "http://127.0.0.1:5000")
    return f"{ui}/#/experiments/{experiment_id}/runs/{run_id}"


def publish_summary(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...], run) -> None:
    """A markdown table of the key metrics and a link to the MLflow run, as a Prefect
    artifact on the flow run."""
    from prefect.artifacts import create_markdown_artifact

    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", f"MLflow run: [{run.info.run_id}]({mlflow_run_url(run.info.experiment_id, run.info.run_id)})"]
    import mlflow

    reproduce = mlflow.MlflowClient(tracking_uri()).get_run(run.info.run_id).data.tags.get("reproduce")
    if reproduce:
        lines += ["", "Reproduce with DVC alone:", "", f"    {reproduce}"]
    create_markdown_artifact("\n".join(lines), key=title.lower().replace(" ", "-").replace("_", "-"),
                             description=title)


def log_plots(mlflow, stages: tuple[str, ...]) -> None:
    """The stages' DVC plots into the flow's MLflow run: as PNG images (plots/) and as
    the HTML page `dvc plots show` renders (dvc_plots/index.html)."""
    import tempfile

    from tasks.figures import dvc_plots

    with tempfile.TemporaryDirectory() as tmp:
        for png in dvc_plots(PROJECT_ROOT / "dvc.yaml", stages, Path(tmp)):
            mlflow.log_artifact(str(png), artifact_path="plots")
        html = Path(tmp) / "dvc_plots"
        proc = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "-o", str(html)], cwd=PROJECT_ROOT,
                              capture_output=True, text=True)
        if proc.returncode == 0 and (html / "index.html").is_file():
            mlflow.log_artifacts(str(html), artifact_path="dvc_plots")


def run_pipeline(name: str, section: str, stages: tuple[str, ...], overrides: dict[str, Any],
                 metrics_file: str, register=None) -> tuple[dict, Any]:
    """The body every flow shares: validate params (with overrides) before any work,
    open the MLflow parent run, run the stages in order through DVC, log the final
    metrics to the parent and, still under the workspace lock, ``register(run_id)`` the
    model (a Prefect task returning (model name, version, whether new)). Returns
    (metrics, MLflow parent run)."""
    from tasks.params import flatten
    from tasks.tracking import flow_run, log_metrics_tree

    outer = PIPELINE_RUN.get()
    experiment, parent = (outer[0], outer[1]) if outer else (name, None)
    with workspace_lock(f"{name}_flow"), effective_params(overrides) as params:
        tree = {section: getattr(params, section).model_dump()}
        given = {k: v for k, v in overrides.items() if v is not None}
        commit = git_commit()
        with flow_run(f"{name}_flow", experiment, flatten(tree), parent) as (mlflow, run):
            # Enough to redo this run without Prefect: the commit, the overrides, and the
            # command; dvc.lock (logged below) pins every dependency's hash.
            mlflow.set_tags({"git_commit": commit, "overrides": json.dumps(given),
                             "reproduce": reproduce_command(given, stages[-1], commit)})
            stale = stale_stages(stages)
            reached_stale = stale is None  # from the first stale stage on, DVC decides
            for stage in stages:  # in order; a failed stage fails the flow
                reached_stale = reached_stale or stage in stale
                if reached_stale:
                    dvc_stage(stage, run.info.run_id, experiment)
                else:  # up to date and nothing before it in this flow has run
                    stage_up_to_date(stage)
            metrics = read_json(metrics_file)
            log_metrics_tree(mlflow, metrics)
            mlflow.log_artifact(str(PROJECT_ROOT / metrics_file))
            mlflow.log_artifact(str(PROJECT_ROOT / "dvc.lock"))
            log_plots(mlflow, stages)
            if register is not None:
                model, version, new = register(run.info.run_id)
                print(f"model registry: {model} version {version}" + ("" if new else " (unchanged, not registered again)"))
    return metrics, run
