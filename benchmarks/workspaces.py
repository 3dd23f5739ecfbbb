"""Throw-away copies of this project: a fresh git + DVC workspace holding the code,
dvc.yaml and a params.yaml, with its own Prefect and MLflow state. Tests and benchmarks
build their projects with it; the shipped packages never do."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def copy_workspace(dest: Path, params: dict, home: Path) -> tuple[Path, dict[str, str]]:
    """A fresh git + DVC workspace at ``dest`` holding this project's code, dvc.yaml and
    ``params`` (as params.yaml), with its own Prefect and MLflow state under ``home``.
    Returns (workspace, environment for commands run in it); the caller adds data.
    """
    import shutil
    import subprocess

    dest.mkdir(parents=True)
    for name in ("tasks", "models", "flows"):
        shutil.copytree(PROJECT_ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".gitignore", ".dvcignore", "quiet.env"):
        shutil.copy(PROJECT_ROOT / name, dest / name)
    (dest / ".dvc").mkdir()
    # DVC's site cache outside the workspace: under it, `dvc exp run --temp` copies fail.
    (dest / ".dvc" / "config").write_text(f"[core]\n    site_cache_dir = {home / 'dvc-site'}\n    autostage = false\n")
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    env = workspace_env(dest, home)
    git = ["git", "-c", "user.name=workspace", "-c", "user.email=workspace@localhost"]
    for cmd in (["git", "init", "-q"], git + ["add", "-A"], git + ["commit", "-qm", "workspace copy"]):
        subprocess.run(cmd, cwd=dest, env=env, check=True, capture_output=True)
    return dest, env


def workspace_env(dest: Path, home: Path) -> dict[str, str]:
    """The environment for commands run in the workspace ``dest``: its code first on the
    paths, its own Prefect home and MLflow store under ``home``."""
    import sys

    env = {**os.environ, "PREFECT_HOME": str(home / "prefect"), "PYTHONPATH": str(dest),
           "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    env.pop("MLFLOW_RUN_ID", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def copy_finished(proj: Path, home: Path) -> tuple[Path, dict[str, str]]:
    """A private copy of the workspace ``proj`` (made by ``copy_workspace``): its code, git
    repository, data, outputs and DVC cache, with a fresh Prefect home and MLflow store
    under ``home``. A test that changes its copy leaves the original, and every other
    copy, as they were."""
    import shutil

    dest = home / proj.name
    shutil.copytree(proj, dest, symlinks=True)
    config = dest / ".dvc" / "config"
    config.write_text(config.read_text().replace(str(proj.parent / "dvc-site"), str(home / "dvc-site")))
    return dest, workspace_env(dest, home)
