"""A pytest plugin for benchmarks/test_suite.py: with ``--timeline FILE`` it appends one
JSON line per test (the process, the node id, start and end in epoch seconds) to FILE.
Loaded with ``-p suite_timeline`` (benchmarks/ on PYTHONPATH), so it also times another
checkout."""
from __future__ import annotations

import json
import time

_started: dict[str, float] = {}
_state: dict = {"out": None, "process": "main"}


def pytest_addoption(parser) -> None:
    parser.addoption("--timeline", default=None, help="append each test's process, start and end to this file")


def pytest_configure(config) -> None:
    # Under pytest-xdist the controller sees every worker's tests again: only the process
    # that ran a test records it.
    worker = getattr(config, "workerinput", {}).get("workerid")
    controller = worker is None and bool(config.getoption("numprocesses", None))
    _state.update(out=None if controller else config.getoption("timeline"), process=worker or "main")


def pytest_runtest_logstart(nodeid: str, location) -> None:
    _started[nodeid] = time.time()


def pytest_runtest_logfinish(nodeid: str, location) -> None:
    if _state["out"]:
        with open(_state["out"], "a", encoding="utf-8") as f:
            f.write(json.dumps({"process": _state["process"], "test": nodeid, "start": _started.pop(nodeid, None),
                                "end": time.time()}) + "\n")
