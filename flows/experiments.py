"""Flow runs with overrides are DVC experiments.

``dvc exp run --temp -n NAME -S key=value ... TARGET`` runs the stages in a temporary
copy of the repository, sharing the DVC cache and run cache, and keeps the result as a
git ref (``refs/exps/...``). ``dvc exp show`` tables them, ``dvc exp apply NAME`` adopts
one, ``dvc exp push origin NAME`` shares it.

Why not in the workspace itself: even with ``--temp``, DVC first stashes the workspace's
uncommitted changes, writes the overrides into the workspace's ``params.yaml``, commits
that to its stash and ``git reset --hard``s back (``dvc/repo/experiments/queue/base.py``,
``_stash_exp``). For that moment ``params.yaml`` and ``dvc.lock`` are not the user's, and
an edit made then is lost. So the experiment starts in a private clone
(:func:`private_clone`: HEAD plus the workspace's uncommitted tracked changes, the same
state DVC would stash) that uses the workspace's DVC cache, and only its finished ref
is fetched into the workspace repository. ``params.yaml``, ``dvc.lock`` and the outputs
in the workspace are never written; several override runs can go at once.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

from flows.processes import process_record, recorded_pid
from tasks.common.settings import PROJECT_ROOT


def set_options(overrides: dict[str, Any]) -> list[str]:
    """``-S key=value`` for each override; values as JSON, which DVC reads as YAML, so a
    string stays a string ("123" is not 123) and a list stays a list."""
    options: list[str] = []
    for key, value in sorted(overrides.items()):
        options += ["-S", f"{key}={json.dumps(value)}"]
    return options


def _git(*args: str, cwd: Path = PROJECT_ROOT, check: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc


def experiment_refs(repo: Path = PROJECT_ROOT) -> dict[str, str]:
    """Every experiment of a repository: name -> ref."""
    out = _git("for-each-ref", "--format=%(refname)", "refs/exps", cwd=repo).stdout
    return {ref.rsplit("/", 1)[-1]: ref for ref in out.split() if ref.count("/") >= 4}


def experiment_name(flow: str) -> str:
    """``<flow>-<Prefect flow run name>`` (e.g. ``tags-rampant-husky``), made a valid git
    ref name and unique among this repository's experiments."""
    try:
        from prefect.runtime import flow_run

        run_name = flow_run.name or "run"
    except Exception:  # outside a flow run
        run_name = "run"
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{flow}-{run_name}").strip("-")
    taken = set(experiment_refs())
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def experiment_command(name: str, overrides: dict[str, Any], target: str) -> list[str]:
    return [sys.executable, "-m", "dvc", "exp", "run", "--temp", "-n", name, *set_options(overrides), target]


def _dvc_cache_dir() -> Path:
    """The workspace's DVC cache folder, as its own config (and config.local) sets it."""
    from dvc.repo import Repo

    with Repo(str(PROJECT_ROOT)) as repo:
        return Path(repo.cache.local_cache_dir)


CLONES = PROJECT_ROOT / ".dvc" / "tmp" / "gnn-exps"  # git and DVC ignore .dvc/tmp
OWNER = "owner.json"


def remove_abandoned_clones() -> list[str]:
    """Remove the private clones whose flow process is gone (killed before it could
    remove its own: e.g. a Prefect cancellation that ran out its grace period and ended
    in SIGKILL). A clone's owner is a :func:`~flows.processes.process_record`, so a reused
    id is no owner. Returns the experiment names removed."""
    removed = []
    for base in sorted(CLONES.glob("*")):
        try:
            owner = json.loads((base / OWNER).read_text())
        except (OSError, ValueError):  # no owner yet: a clone being made right now, or not ours
            continue
        if recorded_pid(owner) is None:
            shutil.rmtree(base, ignore_errors=True)
            removed.append(base.name)
    return removed


@contextlib.contextmanager
def private_clone(name: str) -> Iterator[Path]:
    """A throw-away clone of the workspace for one experiment (under ``.dvc/tmp``, which
    git and DVC ignore): HEAD, plus every tracked file that differs from HEAD copied from
    the workspace (or removed), with the workspace's DVC cache as its cache. Removed on
    exit; if this process is killed first, by the next flow run
    (:func:`remove_abandoned_clones`)."""
    base = CLONES / name
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    (base / OWNER).write_text(json.dumps(process_record(os.getpid())))
    clone = base / "repo"
    try:
        head = _git("rev-parse", "HEAD", check=True).stdout.strip()
        _git("clone", "-q", "--shared", "--no-checkout", str(PROJECT_ROOT), str(clone), check=True)
        _git("checkout", "-q", "--detach", head, cwd=clone, check=True)
        changed = _git("diff", "HEAD", "--name-only", "--no-renames", "-z", check=True).stdout.split("\0")
        for rel in filter(None, changed):
            source, dest = PROJECT_ROOT / rel, clone / rel
            if source.is_file():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest)
            elif dest.is_file():
                dest.unlink()
        # The site cache outside the clone: DVC copies the repository for --temp, and
        # a site cache inside it breaks that copy.
        (clone / ".dvc" / "config.local").write_text(
            f"[core]\n    site_cache_dir = {base / 'site'}\n[cache]\n    dir = {_dvc_cache_dir()}\n")
        yield clone
    finally:
        shutil.rmtree(base, ignore_errors=True)


def fetch_experiment(clone: Path, name: str) -> str:
    """Bring the finished experiment ``name`` from ``clone`` into the workspace
    repository (its commit and ref; outputs are already in the shared cache)."""
    ref = experiment_refs(clone).get(name)
    if ref is None:
        raise RuntimeError(f"dvc exp run finished but left no experiment named {name}")
    _git("fetch", "-q", str(clone), f"+{ref}:{ref}", check=True)
    return ref


def read_from_experiment(ref: str, path: str) -> str:
    """A git-tracked file (a metrics file, dvc.lock) as the experiment committed it."""
    proc = _git("show", f"{ref}:{path}")
    if proc.returncode != 0:
        raise RuntimeError(f"experiment {ref} has no {path}: {proc.stderr.strip()}")
    return proc.stdout


def adopt_hint(name: str) -> str:
    return (f"DVC experiment {name}: compare with `dvc exp show`, adopt with `dvc exp apply {name}`, "
            f"share with `dvc exp push origin {name}`")
