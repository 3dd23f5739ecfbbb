"""Start and stop the project's UIs: a Prefect server, an MLflow server and the flow
deployments (flows/serve.py), all bound to 127.0.0.1, all state inside the project.

    python -m flows.ui start     # make ui
    python -m flows.ui status
    python -m flows.ui stop      # make ui-stop

Every process is started in its own session; its pid and start time go to ``.ui/*.pid``
and its output to ``.ui/logs/*.log``. ``stop`` signals exactly those process groups and
only if the pid still belongs to the process we started (pids get reused). Ports come
from GNN_PREFECT_PORT (4200) and GNN_MLFLOW_PORT (5000).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tasks.common.tracking import PROJECT_ROOT, quiet_environment, tracking_uri

STATE = PROJECT_ROOT / ".ui"
HOST = "127.0.0.1"
BIN = Path(sys.executable).parent


class UIError(RuntimeError):
    """A server could not be started; the message says which and why."""


def prefect_port() -> int:
    return int(os.environ.get("GNN_PREFECT_PORT", "4200"))


def mlflow_port() -> int:
    return int(os.environ.get("GNN_MLFLOW_PORT", "5000"))


def prefect_api() -> str:
    return f"http://{HOST}:{prefect_port()}/api"


def mlflow_ui() -> str:
    return f"http://{HOST}:{mlflow_port()}"


@dataclass
class Service:
    name: str
    cmd: list[str]
    port: int | None  # checked free before start; None: the process opens no port
    env: dict[str, str] = field(default_factory=dict)

    @property
    def pid_file(self) -> Path:
        return STATE / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return STATE / "logs" / f"{self.name}.log"


def services() -> list[Service]:
    db = tracking_uri()  # the SQLite store the flows write (MLFLOW_TRACKING_URI or ./mlflow.db)
    return [
        Service("prefect-server", [str(BIN / "prefect"), "server", "start", "--host", HOST,
                                   "--port", str(prefect_port()), "--workers", "1"], prefect_port(),
                # The UI asks the server where its API is; without this it says :4200.
                {"PREFECT_UI_API_URL": prefect_api()}),
        Service("mlflow-server", [str(BIN / "mlflow"), "server", "--backend-store-uri", db,
                                  "--default-artifact-root", str(PROJECT_ROOT / "mlruns"), "--no-serve-artifacts",
                                  "--host", HOST, "--port", str(mlflow_port()), "--workers", "1"], mlflow_port()),
        # Flow runs log straight to the SQLite store the MLflow server reads, exactly as
        # `make run` does, so runs from the UI and from the command line sit side by side.
        Service("deployments", [sys.executable, "-m", "flows.serve"], None,
                {"PREFECT_API_URL": prefect_api(), "GNN_MLFLOW_UI": mlflow_ui(), "MLFLOW_TRACKING_URI": db}),
    ]


def proc_stat(pid: int | str) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, pgrp, ...], or None if the
    process is gone or a zombie (dead, waiting for a parent to reap it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/pid/stat), or None if gone."""
    fields = proc_stat(pid)
    return fields[19] if fields else None


def running_pid(service: Service) -> int | None:
    """The pid of our process for ``service`` if it is still that process."""
    try:
        record = json.loads(service.pid_file.read_text())
    except (OSError, ValueError):
        return None
    pid = int(record["pid"])
    return pid if _start_time(pid) == record["start_time"] else None


def port_busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def _get(url: str, data: bytes | None = None, timeout: float = 5.0) -> bytes:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def deployment_names() -> set[str]:
    rows = json.loads(_get(f"{prefect_api()}/deployments/filter", data=b"{}"))
    return {row["name"] for row in rows}


# The deployments flows/serve.py serves (named here, not imported from it: the flows
# import this module to find a running server).
DEPLOYMENTS = ("ner", "tags", "pipeline")


def _ready(service: Service) -> bool:
    try:
        if service.name == "prefect-server":
            return _get(f"{prefect_api()}/health") == b"true"
        if service.name == "mlflow-server":
            return _get(f"{mlflow_ui()}/health").strip() == b"OK"
        return set(DEPLOYMENTS) <= deployment_names()
    except OSError:
        return False


def running_prefect_api() -> str | None:
    """The API URL of the Prefect server `make ui` started, if it still runs and answers
    (flow command lines use it instead of starting a temporary server)."""
    server = services()[0]
    return prefect_api() if running_pid(server) is not None and _ready(server) else None


def _log_tail(service: Service, lines: int = 20) -> str:
    try:
        return "\n".join(service.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_service(service: Service, timeout: float) -> int:
    if service.port is not None and port_busy(service.port):
        raise UIError(f"{service.name}: port {service.port} on {HOST} is already in use by a process this "
                      f"project did not start; stop it, or choose another port "
                      f"(GNN_PREFECT_PORT / GNN_MLFLOW_PORT)")
    service.log_file.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **service.env}
    env.setdefault("PREFECT_HOME", str(PROJECT_ROOT / ".prefect"))
    with open(service.log_file, "ab") as log:
        proc = subprocess.Popen(service.cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    service.pid_file.write_text(json.dumps({"pid": proc.pid, "start_time": _start_time(proc.pid),
                                            "cmd": service.cmd}))
    deadline = time.monotonic() + timeout
    while not _ready(service):
        if proc.poll() is not None:
            raise UIError(f"{service.name} exited with code {proc.returncode} while starting; "
                          f"last lines of {service.log_file}:\n{_log_tail(service)}")
        if time.monotonic() > deadline:
            raise UIError(f"{service.name} did not come up within {timeout:.0f}s; "
                          f"last lines of {service.log_file}:\n{_log_tail(service)}")
        time.sleep(1.0)
    return proc.pid


def start(timeout: float = 240.0) -> None:
    quiet_environment()
    started: list[Service] = []
    try:
        for service in services():
            if pid := running_pid(service):
                print(f"{service.name}: already running (pid {pid})")
                continue
            print(f"{service.name}: starting (log {service.log_file.relative_to(PROJECT_ROOT)}) ...", flush=True)
            started.append(service)
            pid = start_service(service, timeout)
            print(f"{service.name}: up (pid {pid})", flush=True)
    except UIError:
        for service in reversed(started):  # leave nothing half-started behind
            stop_service(service)
        raise
    print(f"\nPrefect UI  http://{HOST}:{prefect_port()}  (Deployments -> ner / tags / pipeline -> Run)\n"
          f"MLflow UI   {mlflow_ui()}\nstop with `make ui-stop`")


def stop_service(service: Service, grace: float = 20.0) -> bool:
    pid = running_pid(service)
    if pid is None:
        service.pid_file.unlink(missing_ok=True)
        return False
    os.killpg(pid, signal.SIGTERM)  # its own session: the group holds its workers and flow runs
    deadline = time.monotonic() + grace
    while _group_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.2)
    if _group_alive(pid):
        os.killpg(pid, signal.SIGKILL)
        time.sleep(0.5)
    _reap(pid)
    service.pid_file.unlink(missing_ok=True)
    return True


def _group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is still in process group ``pgid``."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and (fields := proc_stat(proc.name)) and fields[2] == str(pgid):
            return True
    return False


def _reap(pid: int) -> None:
    try:  # a child of this process (start then stop in one process) must be reaped to vanish
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop() -> None:
    for service in reversed(services()):
        print(f"{service.name}: {'stopped' if stop_service(service) else 'not running'}")


def status() -> int:
    up = 0
    for service in services():
        pid = running_pid(service)
        up += pid is not None
        print(f"{service.name}: {f'running (pid {pid})' if pid else 'not running'}")
    return 0 if up == len(services()) else 1


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in {"start", "stop", "status"}:
        sys.exit("usage: python -m flows.ui start|stop|status")
    try:
        if command == "start":
            start()
        elif command == "stop":
            stop()
        else:
            sys.exit(status())
    except UIError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
