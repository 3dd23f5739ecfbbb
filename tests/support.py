"""Shared test support: tiny configurations (params.yaml plus explicit overrides),
throw-away projects, tiny trained models, waiting and logs. The small data sets are in
tests/synthetic.py, the checks on a workspace's outputs in tests/outputs.py.

Every test module imports what it shares from these three; no test module imports another.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from tests.synthetic import write_behaviour_conll, write_citeulike_slice

ROOT = Path(__file__).resolve().parent.parent

# Tiny configurations: overrides of the project's params.yaml, never a second set of defaults.
TINY_NER = {"ner.data.max_sentences": 40, "ner.model.context_units": 8, "ner.model.gcn_units": 8,
            "ner.model.char_filters": 4, "ner.train.epochs": 3, "ner.train.batch_size": 8, "ner.train.patience": 5}
TINY_TAGS = {"tags.sampling.sampling_ratio": 0.5, "tags.sage.sample_sizes": [4, 3],
             "tags.sage.embedding_dimension": 16, "tags.sage.epochs": 3, "tags.sage.batch_size": 16,
             "tags.sage.search_depth": 3, "tags.evaluate.min_count": 5, "tags.evaluate.untagged_sample": 5,
             "tags.evaluate.max_iter": 100, "tags.evaluate.seeds": [1, 2], "tags.sage.compare": ["random"]}


def load_benchmark(name: str):
    """A fresh copy of the script ``benchmarks/<name>.py`` as a module (its globals are
    the test's to patch; nothing is registered in ``sys.modules``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_bench", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def project_params_raw(overrides: dict[str, Any] | None = None) -> dict:
    """The project's params.yaml as data, with ``overrides`` (dotted keys) applied."""
    from tasks.common.params import apply_overrides, read_raw

    return apply_overrides(read_raw(ROOT / "params.yaml"), overrides or {})


def tiny_params(overrides: dict[str, Any] | None = None):
    """Validated Params: params.yaml plus ``overrides``."""
    from tasks.common.params import validate_params

    return validate_params(project_params_raw(overrides), "params.yaml + test overrides")

def make_project(tmp_path: Path, overrides: dict) -> tuple[Path, dict]:
    """A fresh git + DVC project holding this code, the project's params.yaml plus
    ``overrides``, and isolated Prefect/MLflow homes; the caller adds data."""
    from benchmarks.workspaces import copy_workspace

    proj, env = copy_workspace(tmp_path / "proj", project_params_raw(overrides), tmp_path)
    _seed_prefect_home(Path(env["PREFECT_HOME"]))
    return proj, env


def copy_project(proj: Path, tmp_path: Path) -> tuple[Path, dict]:
    """A private copy of a finished project (shared fixtures hand these out: never the
    original, so no test sees another test's changes)."""
    from benchmarks.workspaces import copy_finished

    copy, env = copy_finished(proj, tmp_path)
    _seed_prefect_home(Path(env["PREFECT_HOME"]))
    return copy, env


def _seed_prefect_home(home: Path) -> None:
    """Give a new project's Prefect home a database already migrated: the first
    temporary server in an empty home spends about 6 s more CPU on migrations and block
    registration (15 s to ready against 6 s, measured), and a full suite started nine
    such servers; the one migration per test process costs about 12 s. The database
    holds no flow run and no path, so the project's home is as new."""
    import shutil

    if not home.exists():
        shutil.copytree(_migrated_prefect_home(), home)


@functools.cache
def _migrated_prefect_home() -> Path:
    """A Prefect home whose server ran once (its database migrated, its blocks
    registered), made once per test process in a folder removed at exit."""
    import atexit
    import os
    import shutil
    import sqlite3
    import subprocess
    import sys
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="gnn-prefect-home-"))
    atexit.register(shutil.rmtree, folder, True)
    home = folder / "prefect"
    code = "from flows.ui import own_session_server; s = own_session_server(); s.start(); s.stop()"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PREFECT_HOME": str(home)},
                   check=True, capture_output=True, timeout=300)
    conn = sqlite3.connect(home / "prefect.db")
    try:  # the write-ahead log into the database: one file to copy
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return home


def commit_data(proj: Path, env: dict, *folders: str) -> None:
    """Track data folders with DVC and commit, as the real project's data/raw/*.dvc are:
    a DVC experiment runs in a copy made from git, which holds the .dvc files only."""
    import subprocess
    import sys

    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]
    for cmd in ([sys.executable, "-m", "dvc", "add", "-q", *folders], git + ["add", "-A"],
                git + ["commit", "-qm", "data"]):
        subprocess.run(cmd, cwd=proj, env=env, check=True, capture_output=True)


def run_ok(cmd: list[str], cwd: Path, env: dict, timeout: int = 600):
    import subprocess

    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def train_tiny_ner(base: Path) -> Path:
    """Prepare and train a small default-preset tagger under ``base``; returns its
    artifact folder."""
    import os

    from tasks.common import paths
    from tasks.ner.preparation import prepare
    from tasks.ner.training import train

    write_behaviour_conll(base / "raw")
    # IOB2, not the default's IOBES: on these 300 template sentences an IOBES tagger does
    # not tag a one-token unknown name as subject ("Zorblaxian works for ..."): S-PER is
    # learnt from the 30% of names that are one token, where IOB2's B-PER is learnt from
    # all of them (measured at 12 and 20 epochs; with IOB2 it is tagged PER). The real
    # model's behaviour is `make test-model`'s to check.
    params = tiny_params({"ner.data.dir": str(base / "raw"), "ner.model.context_units": 16,
                          "ner.model.gcn_units": 16, "ner.model.char_filters": 16, "ner.train.epochs": 12,
                          "ner.train.patience": 12, "ner.train.batch_size": 16,
                          "ner.model.tag_scheme": "iob2"}).ner
    here = os.getcwd()
    os.chdir(base)
    try:
        prepare(params, paths.NER_PREPARED)
        train(params)
    finally:
        os.chdir(here)
    return base / paths.NER_ARTIFACTS


def train_tiny_tags(base: Path) -> Path:
    """Run the tag pipeline's library functions on the tiny citeulike slice under
    ``base``; returns ``base`` (the trained files sit at their usual relative paths)."""
    import os

    from tasks.common import paths
    from tasks.tags.evaluation import evaluate_and_save
    from tasks.tags.graph_io import project, sample
    from tasks.tags.readers import read_tables
    from tasks.tags.sage import train
    from tasks.tags.tables import save_tables
    from tasks.tags.text_encoders import embed

    write_citeulike_slice(base / "raw")
    params = tiny_params({**TINY_TAGS, "tags.data.dir": str(base / "raw")})
    here = os.getcwd()
    os.chdir(base)
    try:
        save_tables(read_tables("citeulike", base / "raw"), paths.ARTICLES)
        embed(params.tags)
        project(params.tags)
        sample(params.tags)
        train(params)
        evaluate_and_save(params.tags)
    finally:
        os.chdir(here)
    return base


def processes_using(folder: Path) -> list[str]:
    """Live processes (but this one) whose command line or working folder is inside
    ``folder``: ``"pid: command"`` each, for an assertion message."""
    import os

    from flows.processes import proc_stat

    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or proc.name == str(os.getpid()) or proc_stat(proc.name) is None:
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:  # gone meanwhile, or a kernel thread
            continue
        if str(folder) in cmd or cwd.startswith(str(folder)):
            found.append(f"{proc.name}: {cmd[:120]}")
    return found


def wait_until(what: str, check, timeout: float, poll: float = 2.0):
    """``check()``'s first truthy value, polled; a clear failure after ``timeout`` s."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def log_tails(*logs: Path, lines: int = 60) -> str:
    """The last lines of each log, for an assertion message (the state folder is gone
    by the time a person reads the failure)."""
    parts = []
    for log in logs:
        text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else ["(no log)"]
        parts.append(f"--- {log} ---\n" + "\n".join(text))
    return "\n".join(parts)
