"""Fixtures of the cluster tests (test_cluster.py, test_multihost.py)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def cluster_dir():
    # PostgreSQL runs as the unprivileged `postgres` user when the tests run as root, and
    # pytest's tmp_path (mode 0700) is closed to it: the state lives in a folder it can reach.
    path = Path(tempfile.mkdtemp(prefix="gnn-cluster-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
