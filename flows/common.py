"""What every flow shares: parameter overrides, DVC stages as Prefect tasks, the
MLflow parent run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import yaml
from prefect import get_run_logger, task

from tasks.params import PARAMS_FILE, Params, apply_overrides, load_params, validate_params
from tasks.tracking import PARENT_ENV, PROJECT_ROOT, quiet_environment, tracking_uri


@contextmanager
def effective_params(overrides: dict[str, Any]) -> Iterator[Params]:
    """Validate ``params.yaml`` with the flow's overrides before any work.

    Overrides are written to params.yaml only for the duration of the flow run, so DVC
    sees (and dvc.lock records) exactly what ran; the original file is restored
    afterwards, so a later plain ``dvc repro`` still does what params.yaml says (it
    re-runs the stages whose recorded params differ).
    """
    path = PROJECT_ROOT / PARAMS_FILE
    overrides = {k: v for k, v in overrides.items() if v is not None}
    params = load_params(path)
    if not overrides:
        yield params
        return
    original = path.read_text(encoding="utf-8")
    raw = apply_overrides(yaml.safe_load(original) or {}, overrides)
    params = validate_params(raw, f"{path} with overrides {overrides}")
    try:
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        yield params
    finally:
        path.write_text(original, encoding="utf-8")


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
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if line and not line.startswith(("I0000", "WARNING: All log messages", "E0000")):
            logger.info(line)
            tail = (tail + [line])[-20:]
    if proc.wait() != 0:
        raise RuntimeError(f"stage {stage} failed (exit {proc.returncode}):\n" + "\n".join(tail))


def read_json(path: str | Path) -> dict:
    return json.loads((PROJECT_ROOT / path).read_text(encoding="utf-8"))


def run_pipeline(name: str, section: str, stages: tuple[str, ...], overrides: dict[str, Any],
                 metrics_file: str) -> tuple[dict, str]:
    """The body every flow shares: validate params (with overrides) before any work,
    open the MLflow parent run, run the stages in order through DVC, log the final
    metrics to the parent. Returns (metrics, parent run id)."""
    from tasks.params import flatten
    from tasks.tracking import flow_run, log_metrics_tree

    with effective_params(overrides) as params:
        tree = {section: getattr(params, section).model_dump()}
        with flow_run(f"{name}_flow", name, flatten(tree)) as (mlflow, run):
            for stage in stages:  # in order; a failed stage fails the flow
                dvc_stage(stage, run.info.run_id, name)
            metrics = read_json(metrics_file)
            log_metrics_tree(mlflow, metrics)
            mlflow.log_artifact(str(PROJECT_ROOT / metrics_file))
            mlflow.log_artifact(str(PROJECT_ROOT / "dvc.lock"))
    return metrics, run.info.run_id
