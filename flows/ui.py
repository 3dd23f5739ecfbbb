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

import functools
import json
import signal
import subprocess
import sys

from flows.processes import (HOST, Service, ServiceError, ensure_started, http_get, mlflow_server_cmd,
                             prefect_server_cmd, running_pid, stop_service)
from flows.reporting import ML_VIEW
from tasks.common.settings import PROJECT_ROOT, quiet_environment, settings
from tasks.common.tracking import tracking_uri

STATE = PROJECT_ROOT / ".ui"
UIError = ServiceError  # a server could not be started; the message says which and why


def prefect_port() -> int:
    return settings().prefect_port


def mlflow_port() -> int:
    return settings().mlflow_port


def prefect_api() -> str:
    return f"http://{HOST}:{prefect_port()}/api"


def mlflow_ui() -> str:
    return f"http://{HOST}:{mlflow_port()}"


def services() -> list[Service]:
    db = tracking_uri()  # the SQLite store the flows write (MLFLOW_TRACKING_URI or ./mlflow.db)
    home = {"PREFECT_HOME": str(settings().prefect_home)}
    hint = "choose another port (GNN_PREFECT_PORT / GNN_MLFLOW_PORT)"
    return [
        Service("prefect-server", prefect_server_cmd(HOST, prefect_port()), prefect_port(), STATE,
                lambda: http_get(f"{prefect_api()}/health") == b"true",
                # The UI asks the server where its API is; without this it says :4200.
                {**home, "PREFECT_UI_API_URL": prefect_api()}, PROJECT_ROOT, port_hint=hint),
        Service("mlflow-server", mlflow_server_cmd(HOST, mlflow_port(), "--backend-store-uri", db,
                                                   "--default-artifact-root", str(PROJECT_ROOT / "mlruns"),
                                                   "--no-serve-artifacts"), mlflow_port(), STATE,
                lambda: http_get(f"{mlflow_ui()}/health").strip() == b"OK", home, PROJECT_ROOT, port_hint=hint),
        # Flow runs log straight to the SQLite store the MLflow server reads, exactly as
        # `make run` does, so runs from the UI and from the command line sit side by side.
        Service("deployments", [sys.executable, "-m", "flows.serve"], None, STATE,
                lambda: set(DEPLOYMENTS) <= deployment_names(),
                {**home, "PREFECT_API_URL": prefect_api(), "GNN_MLFLOW_UI": mlflow_ui(), "MLFLOW_TRACKING_URI": db},
                PROJECT_ROOT),
    ]


def deployment_names() -> set[str]:
    rows = json.loads(http_get(f"{prefect_api()}/deployments/filter", data=b"{}"))
    return {row["name"] for row in rows}


# The deployments flows/serve.py serves (named here, not imported from it: the flows
# import this module to find a running server).
DEPLOYMENTS = ("ner", "tags", "pipeline")


def running_prefect_api() -> str | None:
    """The API URL of the Prefect server `make ui` started, if it still runs and answers
    (flow command lines use it instead of starting a temporary server)."""
    server = services()[0]
    return prefect_api() if running_pid(server) is not None and _answers(server) else None


def start_temporary_prefect_server() -> str:
    """Start Prefect's temporary server for one flow command line; its API URL. Prefect
    would start the same server itself, but in the flow's process group: Ctrl-C then
    stops the server with the flow, and the flow, reporting its runs as crashed to a
    server that is gone, retries each report with back-off (Ctrl-C took 218 s to end
    `python -m flows.pipeline`). Here it runs in a session of its own and stops when the
    process exits, after Prefect has sent its last logs and states (Prefect's own exit
    hook); the kernel stops it if the flow process dies without exiting."""
    server = own_session_server()
    server.start()
    return server.api_url


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux's PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def own_session_server():
    """Prefect's SubprocessASGIServer (its command, port choice and health wait) started
    in a new session that dies with this process. Imported here: the server module is
    heavy, and `make ui` and flows that use its server never need it."""
    from prefect.server.api.server import SubprocessASGIServer

    class OwnSessionServer(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen:
            popen = subprocess.Popen
            subprocess.Popen = functools.partial(popen, start_new_session=True, preexec_fn=_die_with_parent)
            try:  # Prefect builds the command and its environment; only the session differs
                return super()._run_uvicorn_command()
            finally:
                subprocess.Popen = popen

    return OwnSessionServer()


def _answers(service: Service) -> bool:
    try:
        return service.ready()
    except OSError:
        return False


def start(timeout: float = 240.0) -> None:
    quiet_environment()
    started: list[Service] = []
    try:
        for service in services():
            ensure_started(service, timeout, started)
    except UIError:
        for service in reversed(started):  # leave nothing half-started behind
            stop_service(service)
        raise
    print(f"\nPrefect UI  http://{HOST}:{prefect_port()}  (Deployments -> ner / tags / pipeline -> Run)\n"
          f"MLflow UI   {mlflow_ui()}/#/experiments?{ML_VIEW}  (Model training view)\nstop with `make ui-stop`")


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
