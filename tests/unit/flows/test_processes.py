"""flows/processes.py without real servers: busy ports, failed starts, pid reuse, and
stopping or killing exactly the processes we started (also those in new sessions), and
a Prefect termination signal lost in a finaliser sent again."""
from __future__ import annotations

import json
import os
import socket
import sys
import time

import pytest

from flows import processes as ps
from flows import ui


def _service(tmp_path, name, cmd, port=None, ready=lambda: True):
    return ps.Service(name, cmd, port, tmp_path / "state", ready)


def test_busy_port_is_named_and_nothing_is_started(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        service = _service(tmp_path, "prefect-server", [sys.executable, "-c", "pass"], port)
        with pytest.raises(ps.ServiceError, match=f"port {port} on 127.0.0.1 is already in use"):
            ps.start_service(service, timeout=5)
    assert not service.pid_file.exists()


def test_a_server_that_dies_while_starting_reports_its_log(tmp_path):
    code = "print('no such backend'); raise SystemExit(3)"
    service = _service(tmp_path, "mlflow-server", [sys.executable, "-c", code], ready=lambda: False)
    with pytest.raises(ps.ServiceError, match=r"(?s)exited with code 3.*no such backend"):
        ps.start_service(service, timeout=30)


# A fake server with a child in its own group and a grandchild in a new session (as
# Prefect's worker starts flow runs): stop must end all three.
_FAKE = ("import subprocess, sys, time; "
         "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
         "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True); "
         "time.sleep(60)")


def test_stop_ends_the_group_and_children_in_new_sessions(tmp_path):
    service = _service(tmp_path, "deployments", [sys.executable, "-c", _FAKE])
    pid = ps.start_service(service, timeout=5)
    assert ps.running_pid(service) == pid
    kids = _children(pid, 2)
    assert ps.stop_service(service, grace=5)
    assert ps.start_time(pid) is None and all(ps.start_time(c) is None for c in kids)
    assert not service.pid_file.exists()
    assert not ps.stop_service(service)  # a second stop finds nothing to end


def test_kill_tree_kills_everything_below(tmp_path):
    service = _service(tmp_path, "worker-1", [sys.executable, "-c", _FAKE])
    pid = ps.start_service(service, timeout=5)
    kids = _children(pid, 2)
    assert set(ps.kill_tree(pid)) == {pid, *kids}
    time.sleep(0.3)
    assert all(ps.start_time(p) is None for p in (pid, *kids))
    assert ps.running_pid(service) is None
    assert not ps.stop_service(service)


def _children(pid: int, n: int) -> list[int]:
    for _ in range(100):
        kids = ps.descendants(pid)
        if len(kids) >= n:
            return kids
        time.sleep(0.1)
    raise AssertionError(f"the fake server started {ps.descendants(pid)}, expected {n} children")


def test_a_reused_pid_is_not_ours(tmp_path):
    service = _service(tmp_path, "prefect-server", ["x"])
    service.state.mkdir()
    # Our own pid, but with another start time: a process that merely reuses the pid.
    service.pid_file.write_text(json.dumps({"pid": os.getpid(), "start_time": "1"}))
    assert ps.running_pid(service) is None
    assert not ps.stop_service(service)  # and so it is never signalled


def test_make_ui_services_bind_to_localhost_and_keep_state_in_the_project(monkeypatch, tmp_path):
    monkeypatch.setattr(ui, "STATE", tmp_path / ".ui")
    for service in ui.services():
        assert service.state == tmp_path / ".ui"
        if service.port is not None:
            assert service.cmd[service.cmd.index("--host") + 1] == "127.0.0.1"


TERMINATED_IN_A_FINALISER = """
import signal, sys, time, weakref
from prefect.exceptions import TerminationSignal
from flows.processes import keep_termination_signals

def bridge(sig, frame):  # what Prefect's SIGTERM bridge does
    raise TerminationSignal(signal=sig)

signal.signal(signal.SIGTERM, bridge)
if sys.argv[1] == "kept":
    keep_termination_signals()
    keep_termination_signals()  # a second call installs nothing more

class Collected:
    pass

def finaliser(ref):
    raise TerminationSignal(signal=signal.SIGTERM)  # the bridge, had the signal landed here

obj = Collected()
ref = weakref.ref(obj, finaliser)
try:
    del obj
    for _ in range(500):
        time.sleep(0.01)
    print("ran on")
except TerminationSignal:
    print("terminated")
"""


@pytest.mark.parametrize("mode, said", [("kept", "terminated"), ("plain", "ran on")])
def test_a_termination_signal_lost_in_a_finaliser_is_sent_again_only_when_kept(mode, said):
    import subprocess

    from tests.support import ROOT

    done = subprocess.run([sys.executable, "-c", TERMINATED_IN_A_FINALISER, mode], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [said]
    assert ("TerminationSignal" in done.stderr) == (mode == "plain")  # reported as lost only without the hook
