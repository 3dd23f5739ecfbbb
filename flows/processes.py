"""Long-running processes the project starts and stops itself: the servers of `make ui`
(flows/ui.py) and of `make cluster` (flows/cluster/).

Every process is started in its own session; its pid and kernel start time go to
``<state>/<name>.pid`` and its output to ``<state>/logs/<name>.log``. Stopping signals
exactly that process group, and only if the pid still belongs to the process we started
(pids get reused).
"""
from __future__ import annotations

import base64
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
from typing import Callable

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent  # this environment's scripts: prefect, mlflow, dvc


def prefect_server_cmd(host: str, port: int) -> list[str]:
    """A Prefect server (UI + API) on ``host:port``; its database comes from the environment."""
    return [str(BIN / "prefect"), "server", "start", "--host", host, "--port", str(port), "--workers", "1"]


def mlflow_server_cmd(host: str, port: int, *store: str) -> list[str]:
    """An MLflow server on ``host:port``; ``store``: where its runs and artifacts go."""
    return [str(BIN / "mlflow"), "server", *store, "--host", host, "--port", str(port), "--workers", "1"]


class ServiceError(RuntimeError):
    """A service could not be started; the message says which and why."""


@dataclass
class Service:
    name: str
    cmd: list[str]
    port: int | None  # checked free before start; None: the process opens no port
    state: Path  # folder of the pid file and the logs
    ready: Callable[[], bool]  # True once the service answers
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None  # run as this user (PostgreSQL refuses to run as root)
    stop_signal: int = signal.SIGTERM
    port_hint: str = "choose another port"
    host: str = HOST  # the address ``port`` is bound on

    @property
    def pid_file(self) -> Path:
        return self.state / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state / "logs" / f"{self.name}.log"


def proc_stat(pid: int | str) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, pgrp, ...], or None if the
    process is gone or a zombie (dead, waiting for a parent to reap it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/pid/stat), or None if gone."""
    fields = proc_stat(pid)
    return fields[19] if fields else None


def process_record(pid: int) -> dict:
    """What identifies process ``pid`` later: its id and its start time, since an id is
    reused once the process is gone."""
    return {"pid": pid, "start_time": start_time(pid)}


def recorded_pid(record: dict) -> int | None:
    """The pid of a :func:`process_record` if that process still runs, else None."""
    pid = int(record["pid"])
    return pid if start_time(pid) == record["start_time"] else None


def running_pid(service: Service) -> int | None:
    """The pid of our process for ``service`` if it is still that process."""
    try:
        record = json.loads(service.pid_file.read_text())
    except (OSError, ValueError):
        return None
    return recorded_pid(record)


def port_busy(port: int, host: str = HOST) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now (tests and benchmarks)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def basic_auth(user_password: str) -> str:
    """The Authorization header value for ``user:password``."""
    return "Basic " + base64.b64encode(user_password.encode()).decode()


def http_get(url: str, data: bytes | None = None, timeout: float = 5.0, auth: str | None = None,
             method: str | None = None) -> bytes:
    """GET (or POST ``data`` as JSON) ``url``: the services' health and API probes;
    ``auth``: ``user:password`` for basic authentication."""
    headers = {"Content-Type": "application/json", **({"Authorization": basic_auth(auth)} if auth else {})}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return reply.read()


def log_tail(service: Service, lines: int = 20) -> str:
    try:
        return "\n".join(service.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _ready(service: Service) -> bool:
    try:
        return bool(service.ready())
    except OSError:
        return False


def start_service(service: Service, timeout: float) -> int:
    """Start ``service`` and wait until it answers; a busy port, an early exit or a
    timeout raise ServiceError with the log's last lines."""
    if service.port is not None and port_busy(service.port, service.host):
        raise ServiceError(f"{service.name}: port {service.port} on {service.host} is already in use by a process this "
                           f"project did not start; stop it, or {service.port_hint}")
    service.log_file.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **service.env}
    with open(service.log_file, "ab") as log:
        proc = subprocess.Popen(service.cmd, cwd=service.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, user=service.user)
    service.pid_file.write_text(json.dumps({**process_record(proc.pid), "cmd": service.cmd}))
    deadline = time.monotonic() + timeout
    while not _ready(service):
        if proc.poll() is not None:
            raise ServiceError(f"{service.name} exited with code {proc.returncode} while starting; "
                               f"last lines of {service.log_file}:\n{log_tail(service)}")
        if time.monotonic() > deadline:
            raise ServiceError(f"{service.name} did not come up within {timeout:.0f}s; "
                               f"last lines of {service.log_file}:\n{log_tail(service)}")
        time.sleep(0.5)
    return proc.pid


def ensure_started(service: Service, timeout: float, started: list[Service]) -> None:
    """Start ``service`` unless our process for it already runs; a started one is added
    to ``started`` (before it answers), so that the caller can stop it again on failure."""
    if pid := running_pid(service):
        print(f"{service.name}: already running (pid {pid})")
        return
    print(f"{service.name}: starting (log {service.log_file}) ...", flush=True)
    started.append(service)
    pid = start_service(service, timeout)
    print(f"{service.name}: up (pid {pid})", flush=True)


def stop_service(service: Service, grace: float = 20.0) -> bool:
    """Stop our process for ``service`` and everything it started (its process group
    and, for processes that start their children in new sessions, its descendants)."""
    pid = running_pid(service)
    if pid is None:
        service.pid_file.unlink(missing_ok=True)
        return False
    tree = descendants(pid)
    os.killpg(pid, service.stop_signal)
    for child in tree:  # children in sessions of their own (Prefect's flow-run processes)
        _signal(child, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while (group_alive(pid) or any(start_time(c) for c in tree)) and time.monotonic() < deadline:
        reap(pid)
        time.sleep(0.2)
    if group_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    for child in tree:
        _signal(child, signal.SIGKILL)
    time.sleep(0.3)
    reap(pid)
    service.pid_file.unlink(missing_ok=True)
    return True


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and all its descendants at once, as a machine losing power would:
    nobody gets to clean up. Returns the pids signalled."""
    tree = [pid, *descendants(pid)]
    for p in tree:
        _signal(p, signal.SIGSTOP)  # freeze first so no child escapes by forking
    for p in tree:
        _signal(p, signal.SIGKILL)
    reap(pid)
    return tree


def descendants(pid: int) -> list[int]:
    children: dict[str, list[str]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and (fields := proc_stat(proc.name)):
            children.setdefault(fields[1], []).append(proc.name)
    out, todo = [], [str(pid)]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(int(child))
            todo.append(child)
    return out


def interrupt_children() -> list[int]:
    """SIGINT to every process this one started, directly or not, in its process group:
    what a terminal's Ctrl-C reaches (each running stage, and DVC around it), and not the
    servers started in a session of their own. For a SIGTERM sent to this process alone
    (`kill PID`), which reaches no stage. Returns the pids."""
    group = str(os.getpgrp())
    pids = [pid for pid in descendants(os.getpid()) if (fields := proc_stat(pid)) and fields[2] == group]
    for pid in pids:
        _signal(pid, signal.SIGINT)
    return pids


def keep_termination_signals() -> None:
    """Prefect's SIGTERM bridge (a run cancelled in the UI, a worker stopping it) raises
    ``TerminationSignal`` at the main thread's next bytecode. When that bytecode belongs to
    a finaliser the garbage collector runs, Python reports the exception as unraisable and
    the flow runs on: no stage hears of it (``_stream`` in flows/runner.py passes it on)
    until Prefect kills the flow after its grace period, leaving the stage running. As
    tasks/common/interrupts.py does for a lost Ctrl-C, send the same signal again a moment
    later, from a thread. Installed once per process, above the hook already there."""
    import threading

    from prefect.exceptions import TerminationSignal

    from tasks.common.interrupts import RESEND_AFTER_S

    previous = sys.unraisablehook
    if getattr(previous, "keeps_termination_signals", False):
        return

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, TerminationSignal):
            resend = threading.Timer(RESEND_AFTER_S, os.kill, (os.getpid(), unraisable.exc_value.signal))
            resend.daemon = True
            resend.start()
        else:
            previous(unraisable)

    hook.keeps_termination_signals = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes in process group ``pgid``."""
    return [int(proc.name) for proc in Path("/proc").iterdir()
            if proc.name.isdigit() and (fields := proc_stat(proc.name)) and fields[2] == str(pgid)]


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is still in process group ``pgid``."""
    return bool(group_members(pgid))


def reap(pid: int) -> None:
    try:  # a child of this process (start then stop in one process) must be reaped to vanish
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
