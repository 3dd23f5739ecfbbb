"""Flow runs with overrides are DVC experiments.

``dvc exp run --temp -n NAME -S key=value ... TARGET`` runs the stages in a temporary
copy of the repository (under ``.dvc/tmp/exps``), sharing the DVC cache and run cache,
and keeps the result as a git ref (``refs/exps/...``): ``params.yaml``, ``dvc.lock``
and the outputs in the workspace are never written, so the user can keep editing while
the run goes, and several override runs can go at once. ``dvc exp show`` tables them,
``dvc exp apply NAME`` adopts one, ``dvc exp push origin NAME`` shares it.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

from tasks.common.tracking import EXPERIMENT_ENV, PROJECT_ROOT  # the stage runs tag their MLflow runs with it


def set_options(overrides: dict[str, Any]) -> list[str]:
    """``-S key=value`` for each override; values as JSON, which DVC reads as YAML, so a
    string stays a string ("123" is not 123) and a list stays a list."""
    options: list[str] = []
    for key, value in sorted(overrides.items()):
        options += ["-S", f"{key}={json.dumps(value)}"]
    return options


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True)


def experiment_refs() -> dict[str, str]:
    """Every experiment of this repository: name -> ref."""
    out = _git("for-each-ref", "--format=%(refname)", "refs/exps").stdout
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


def read_from_experiment(ref: str, path: str) -> str:
    """A git-tracked file (a metrics file, dvc.lock) as the experiment committed it."""
    proc = _git("show", f"{ref}:{path}")
    if proc.returncode != 0:
        raise RuntimeError(f"experiment {ref} has no {path}: {proc.stderr.strip()}")
    return proc.stdout


def adopt_hint(name: str) -> str:
    return (f"DVC experiment {name}: compare with `dvc exp show`, adopt with `dvc exp apply {name}`, "
            f"share with `dvc exp push origin {name}`")
