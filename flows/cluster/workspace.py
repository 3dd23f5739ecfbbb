"""A worker's workspace: a git clone of the project whose DVC default remote is the
cluster's shared remote, so every stage output one worker pushes, another can pull.

    python -m flows.cluster.workspace sync    # run by each deployment's pull steps

A deployment's pull steps (flows/cluster/deploy.py) enter the worker's workspace
($GNN_WORKSPACE), check out the deployed commit and run ``sync``: the data files tracked
by ``*.dvc`` come from the shared remote (a no-op when they are already there). Stage
outputs come later, from ``dvc repro --pull`` (the remote's run cache).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from flows.cluster.config import SHARED_REMOTE, ClusterConfig, ClusterError


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ClusterError(f"{what} failed in {cwd} ({' '.join(cmd[:4])} ...):\n"
                           f"{(proc.stdout + proc.stderr).strip()[-1500:]}")
    return proc.stdout


def dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def tracked_data(repo: Path) -> list[str]:
    """The ``*.dvc`` files git tracks (the raw data; stage outputs live in dvc.lock)."""
    return [line for line in _run(["git", "ls-files", "*.dvc"], repo, "git ls-files").splitlines() if line]


def add_shared_remote(repo: Path, remote: Path | str, default: bool, keyfile: Path | None = None) -> None:
    """Name the shared remote ``cluster`` in the repository's .dvc/config.local (never
    committed); ``default``: make it the remote plain ``dvc push/pull`` use. ``remote``:
    a folder on this host, or an ``ssh://`` URL reached with ``keyfile``."""
    if isinstance(remote, Path):
        remote.mkdir(parents=True, exist_ok=True)
    _run(dvc("remote", "add", "--local", "--force", *(["--default"] if default else []), SHARED_REMOTE,
             str(remote)), repo, "dvc remote add")
    if keyfile is not None:
        _run(dvc("remote", "modify", "--local", SHARED_REMOTE, "keyfile", str(keyfile)), repo, "dvc remote modify")


def publish_project_data(config: ClusterConfig) -> None:
    """Push the project's raw data (its *.dvc files) to the shared remote, from which
    every workspace pulls; the project itself keeps its own default remote."""
    project = Path(config.project)
    add_shared_remote(project, config.dvc_remote, default=False)
    targets = tracked_data(project)
    if targets:
        _run(dvc("push", "-q", "-r", SHARED_REMOTE, *targets), project, "dvc push of the project's data "
             "(run `dvc pull` in the project first)")


def create(config: ClusterConfig, worker: str) -> Path:
    """A workspace on the server host, its remote the shared folder."""
    return clone(Path(config.project), config.workspace(worker), config.dvc_remote)


def clone(project: Path, ws: Path, remote: Path | str, keyfile: Path | None = None, upstream: bool = False) -> Path:
    """The workspace ``ws``: a clone of ``project`` made on first use (into a temporary
    name, renamed when complete), then synced. ``upstream`` (a worker on another host):
    it fetches the deployed commits from the project's own origin (the team's git
    server) when the project has one, not from the project folder."""
    if not (ws / ".git").is_dir():
        tmp = ws.with_name(ws.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        _run(["git", "clone", "-q", str(project), str(tmp)], tmp.parent, "git clone of the project")
        if upstream:
            origin = subprocess.run(["git", "remote", "get-url", "origin"], cwd=project, capture_output=True, text=True)
            if origin.returncode == 0 and origin.stdout.strip():
                _run(["git", "remote", "set-url", "origin", origin.stdout.strip()], tmp, "git remote set-url")
        add_shared_remote(tmp, remote, default=True, keyfile=keyfile)
        tmp.rename(ws)
    sync(ws)
    return ws


def sync(ws: Path) -> None:
    targets = tracked_data(ws)
    if targets:
        _run(dvc("pull", "-q", *targets), ws, "dvc pull of the data from the shared remote")


def main() -> None:
    if sys.argv[1:] != ["sync"]:
        sys.exit("usage: python -m flows.cluster.workspace sync")
    try:
        sync(Path(os.getcwd()))
    except ClusterError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
