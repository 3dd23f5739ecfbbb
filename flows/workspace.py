"""The workspace a flow run works in: one run at a time, and the run's parameters.

Overrides from the Prefect form are validated with params.yaml before any work and
written into params.yaml only for the run, under the workspace lock, so DVC sees and
dvc.lock records exactly what ran; the user's file is restored byte for byte afterwards
(from a backup in .cache/ if the run was killed).
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import yaml

from tasks.common.params import PARAMS_FILE, Params, apply_overrides, read_raw, validate_params
from tasks.common.tracking import PROJECT_ROOT


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
    """params.yaml with the flow's overrides, validated before any work (see the module
    docstring for why the overrides are written into params.yaml for the run)."""
    path = PROJECT_ROOT / PARAMS_FILE
    restore_interrupted_overrides()
    overrides = {k: v for k, v in overrides.items() if v is not None}
    raw = read_raw(path)
    params = validate_params(raw, path)  # the file itself first, then with the overrides
    if not overrides:
        yield params
        return
    original = path.read_text(encoding="utf-8")  # restored byte for byte, comments included
    raw = apply_overrides(raw, overrides)
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


def copy_workspace(dest: Path, params: dict, home: Path) -> tuple[Path, dict[str, str]]:
    """A fresh git + DVC workspace at ``dest`` holding this project's code, dvc.yaml and
    ``params`` (as params.yaml), with its own Prefect and MLflow state under ``home``.
    Returns (workspace, environment for commands run in it); the caller adds data.
    Tests and benchmarks build their throw-away projects with it."""
    import shutil
    import subprocess
    import sys

    dest.mkdir(parents=True)
    for name in ("tasks", "models", "flows"):
        shutil.copytree(PROJECT_ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(PROJECT_ROOT / name, dest / name)
    (dest / ".dvc").mkdir()
    (dest / ".dvc" / "config").write_text("[core]\n    site_cache_dir = .dvc/site\n    autostage = false\n")
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "PREFECT_HOME": str(home / "prefect"), "PYTHONPATH": str(dest),
           "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    env.pop("MLFLOW_RUN_ID", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    git = ["git", "-c", "user.name=workspace", "-c", "user.email=workspace@localhost"]
    for cmd in (["git", "init", "-q"], git + ["add", "-A"], git + ["commit", "-qm", "workspace copy"]):
        subprocess.run(cmd, cwd=dest, env=env, check=True, capture_output=True)
    return dest, env
