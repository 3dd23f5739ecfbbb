"""flows/ui.py without real servers: busy ports, failed starts and pid reuse."""
from __future__ import annotations

import json
import os
import socket
import sys

import pytest

from flows import ui


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setattr(ui, "STATE", tmp_path / ".ui")
    return tmp_path / ".ui"


def test_busy_port_is_named_and_nothing_is_started(state):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        service = ui.Service("prefect-server", [sys.executable, "-c", "pass"], port)
        with pytest.raises(ui.UIError, match=f"port {port} on 127.0.0.1 is already in use"):
            ui.start_service(service, timeout=5)
    assert not service.pid_file.exists()


def test_a_server_that_dies_while_starting_reports_its_log(state, monkeypatch):
    monkeypatch.setattr(ui, "_ready", lambda service: False)
    service = ui.Service("mlflow-server", [sys.executable, "-c", "print('no such backend'); raise SystemExit(3)"], None)
    with pytest.raises(ui.UIError, match=r"(?s)exited with code 3.*no such backend"):
        ui.start_service(service, timeout=30)


def test_stop_ends_exactly_the_started_process_group(state, monkeypatch):
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    service = ui.Service("deployments", [sys.executable, "-c", code], None)
    monkeypatch.setattr(ui, "_ready", lambda service: True)  # this fake service has no health check
    pid = ui.start_service(service, timeout=5)
    assert ui.running_pid(service) == pid
    child = _children(pid)
    assert child, "the fake server should have started a worker"
    assert ui.stop_service(service)
    assert ui._start_time(pid) is None and all(ui._start_time(c) is None for c in child) and not service.pid_file.exists()
    assert not ui.stop_service(service)  # a second stop finds nothing to end


def _children(pid: int) -> list[int]:
    import time
    from pathlib import Path

    for _ in range(50):
        kids = [int(p.name) for p in Path("/proc").iterdir()
                if p.name.isdigit() and (fields := ui.proc_stat(p.name)) and fields[1] == str(pid)]
        if kids:
            return kids
        time.sleep(0.1)
    return []


def test_a_reused_pid_is_not_ours(state, monkeypatch):
    state.mkdir()
    service = ui.Service("prefect-server", ["x"], None)
    # Our own pid, but with another start time: a process that merely reuses the pid.
    service.pid_file.write_text(json.dumps({"pid": os.getpid(), "start_time": "1"}))
    assert ui.running_pid(service) is None
    assert not ui.stop_service(service)  # and so it is never signalled
