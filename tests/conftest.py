"""Test isolation: Prefect, MLflow and Keras state stay in per-session temp folders; test
files run longest first."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.common.settings import quiet_environment  # noqa: E402

quiet_environment()
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# A flow run without a server starts a temporary Prefect server and waits 20 s for it by
# default; on 2 busy cores that start can take longer (seen: 5 e2e failures, all
# "Timed out while attempting to connect to ephemeral Prefect API server").
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


SUITE_RUNS = ROOT / "benchmarks" / "results" / "test_suite.json"


def recorded_file_seconds(results: Path = SUITE_RUNS) -> dict[str, float]:
    """Each test file's seconds in the latest passing suite run that timed it
    (benchmarks/test_suite.py): a later run of part of the suite (make test-fast's
    tests/unit) updates its own files and keeps the others'; {} when there is none."""
    try:
        runs = list(json.loads(results.read_text(encoding="utf-8")).values())
    except (OSError, ValueError):
        return {}
    timed = [r for r in runs if isinstance(r, dict) and r.get("exit_code") == 0 and r.get("files")]
    return {f["file"]: f["seconds"] for run in timed for f in run["files"]}


def pytest_collection_modifyitems(config, items):
    """Longest test files first. ``make test`` hands whole files to two processes
    (``--dist loadfile --no-loadscope-reorder``, which keeps this order); with the longest
    last, one process would run it alone while the other has nothing left. A file the
    record does not know (a new one) goes first, so a slow new file is never left for
    the end. The sort is stable: tests keep their order inside a file."""
    seconds = recorded_file_seconds()
    items.sort(key=lambda item: -seconds.get(item.nodeid.split("::")[0], float("inf")))


@pytest.fixture(autouse=True)
def _isolated_tracking(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.setenv("PREFECT_HOME", str(home / "prefect"))


CONLL_SAMPLE = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

Zürich NNP B-NP B-LOC
won VBD B-VP O
"""


@pytest.fixture
def conll_sample() -> str:
    return CONLL_SAMPLE
