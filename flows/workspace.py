"""The workspace a flow run works in: one run at a time, and the run's parameters.

A run without overrides works in the workspace (``dvc repro``), one at a time under
:func:`workspace_lock`. A run with overrides never writes the workspace: it is a DVC
experiment in a temporary copy (``flows/experiments.py``); :func:`resolve_params` only
validates params.yaml with the overrides, before any work.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from typing import Any, Iterator


from tasks.common.params import PARAMS_FILE, Params, apply_overrides, read_raw, validate_params
from tasks.common.settings import PROJECT_ROOT


class WorkspaceBusy(RuntimeError):
    """Another flow run holds this workspace."""


LOCK_FILE = PROJECT_ROOT / ".cache" / "workspace.lock"


@contextmanager
def workspace_lock(flow: str) -> Iterator[None]:
    """One flow run per workspace at a time: a second one is refused at once with a
    message naming the holder, before it touches params.yaml or any stage. Not
    re-entrant, even within one process: a pipeline that holds it tells its subflows so
    (``flows.runner.ParentRun.holds_workspace``)."""
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
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def resolve_params(overrides: dict[str, Any]) -> Params:
    """params.yaml, then params.yaml with the overrides, validated before any work; an
    invalid file or value stops the run with the file and key named. Nothing is written."""
    path = PROJECT_ROOT / PARAMS_FILE
    raw = read_raw(path)
    params = validate_params(raw, path)
    if not overrides:
        return params
    return validate_params(apply_overrides(raw, overrides), f"{path} with overrides {overrides}")
