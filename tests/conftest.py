"""Test isolation: Prefect, MLflow and Keras state stay in per-session temp folders."""
from __future__ import annotations

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
