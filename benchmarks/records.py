"""The results files of benchmarks/ that keep one entry per label (test_suite.json,
make_run.json): adding a run is one call, and the file is replaced whole, never left
half-written."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tasks.common.files import write_json


def record(path: Path, label: str, entry: Any) -> dict:
    """Put ``entry`` under ``label`` in the results file ``path`` (a new label is added, a
    known one replaced) and write the file; returns every entry it now holds."""
    runs = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    runs[label] = entry
    write_json(path, runs)
    return runs
