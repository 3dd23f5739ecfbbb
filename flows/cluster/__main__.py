"""The cluster's command line (the Makefile's cluster targets call it).

    python -m flows.cluster start              # make cluster: up, deployed, workers polling
    python -m flows.cluster status             # make cluster-status (exit 1 if anything is down)
    python -m flows.cluster stop               # make cluster-stop: exactly what start started
    python -m flows.cluster submit tags [-S tags.sage.epochs=5] [--wait]
    python -m flows.cluster retry FLOW_RUN_ID  # a Crashed/Failed run goes back to the pool
    python -m flows.cluster restart postgres   # any one service (fault drills)
    python -m flows.cluster invite NAME [--gpu]  # on a network address: credentials for a worker host
    python -m flows.cluster join FILE [--env KERAS_BACKEND=jax]   # on the worker host
    python -m flows.cluster leave              # stop the worker this host joined

Environment, read by the first ``start`` only (then kept in .cluster/cluster.json):
GNN_CLUSTER_DIR (.cluster), GNN_CLUSTER_PG_PORT (5433), GNN_CLUSTER_PREFECT_PORT (4300),
GNN_CLUSTER_MLFLOW_PORT (5300), GNN_CLUSTER_WORKERS (2), GNN_CLUSTER_POOL (gnn),
GNN_CLUSTER_HEARTBEAT_S (30, Prefect's minimum), GNN_CLUSTER_BIND (127.0.0.1; any other
address turns on authentication and the SSH DVC remote), GNN_CLUSTER_SSH_PORT (2222).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from flows.cluster import auth, deploy, postgres, remote, services, ssh, workspace
from flows.cluster.config import ClusterConfig, ClusterError, config_file, load, new_config, save
from flows.processes import Service, ServiceError, ensure_started, running_pid, start_service, stop_service
from tasks.common.params import ParamsError
from tasks.common.settings import quiet_environment

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _git(config: ClusterConfig, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=config.project, capture_output=True, text=True, check=True).stdout.strip()


def start(timeout: float = 300.0) -> None:
    quiet_environment()
    begin = time.monotonic()
    config = new_config()
    save(config)
    commit = _git(config, "rev-parse", "HEAD")
    if _git(config, "status", "--porcelain", "--untracked-files=no"):
        print(f"note: the project has uncommitted changes; workers run the committed {commit[:12]}")
    if postgres.initialise(config):
        print(f"postgres: initialised {postgres.data_dir(config)}")
    started: list[Service] = []
    try:
        if config.secured:
            ssh.prepare(config)
        db, *network_servers = services.servers(config)
        ensure_started(db, timeout, started)
        postgres.create_databases(config)
        for service in network_servers:  # Prefect, MLflow, and sshd on a network address
            ensure_started(service, timeout, started)
        remote.invite_local_workers(config)
        from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: config.prefect_api,
                                 PREFECT_API_AUTH_STRING: config.prefect_auth if config.secured else None}):
            names = deploy.apply(config, commit)
        print(f"deployments on work pool {config.pool!r} at {commit[:12]}: {', '.join(names)}")
        workspace.publish_project_data(config)
        ensure_started(services.janitor(config), timeout, started)
        for name in config.worker_names:
            print(f"{name}: workspace {workspace.create(config, name)}", flush=True)
            ensure_started(services.worker(config, name), timeout, started)
    except BaseException:  # a failed step, Ctrl-C, a Prefect error while deploying
        for service in reversed(started):  # leave nothing half-started behind
            stop_service(service)
        raise
    secured = (f"credentials  {config_file()} (Prefect: prefect_auth; MLflow: admin / mlflow_admin_password)\n"
               f"other hosts  python -m flows.cluster invite NAME, then on that host: join NAME.json\n"
               if config.secured else "")
    print(f"\ncluster ready in {time.monotonic() - begin:.1f} s\n"
          f"Prefect UI  http://{config.host}:{config.prefect_port}  (Deployments -> Run: any idle worker takes it)\n"
          f"MLflow UI   {config.mlflow_uri}\n{secured}"
          f"submit      python -m flows.cluster submit tags   (or the Run button)\n"
          f"stop with   make cluster-stop")


def stop() -> None:
    config = load(required=False)
    if config is None:
        if remote.joined() is not None:
            remote.leave()
            return
        print("no cluster here")
        return
    for service in reversed(services.all_services(config)):
        print(f"{service.name}: {'stopped' if stop_service(service) else 'not running'}")


def status() -> int:
    """Each service of the cluster here (or the worker this host joined): running? answering?"""
    config = load(required=False)
    worker = remote.joined() if config is None else None
    parts = [worker] if worker else services.all_services(load())  # load(): "no cluster here" if none
    down = 0
    for service in parts:
        pid = running_pid(service)
        answers = False
        try:
            answers = pid is not None and bool(service.ready())
        except OSError:
            pass
        down += not answers
        state = f"running (pid {pid}), {'answering' if answers else 'NOT answering'}" if pid else "not running"
        print(f"{service.name:15s} {state}")
    return 1 if down else 0


def check_reachable(config: ClusterConfig) -> None:
    """Fail within seconds, naming the part that is down, before anything is submitted."""
    if not postgres.can_connect(config):
        raise ClusterError(f"PostgreSQL at 127.0.0.1:{config.pg_port} is not answering: start it with `make cluster` "
                           f"(log {config.root / 'logs' / 'postgres.log'})")
    try:
        if not services.prefect_ready(config):
            raise OSError("not ready")
    except OSError as err:
        why = "cannot reach its database" if "503" in str(err) else f"is not answering ({err})"
        raise ClusterError(f"the Prefect server at {config.prefect_api} {why}: see "
                           f"{config.root / 'logs' / 'prefect-server.log'}, or restart with `make cluster`") from None
    try:
        services.mlflow_ready(config)
    except OSError as err:
        raise ClusterError(f"the MLflow server at {config.mlflow_uri} is not answering ({err}): see "
                           f"{config.root / 'logs' / 'mlflow-server.log'}, or restart with `make cluster`") from None
    auth.check_credentials(auth.admin_credentials(config), str(config_file()))


def _parameters(name: str, sets: list[str]) -> dict:
    """The flow's parameters for ``-S`` overrides (validated here, before submitting);
    none: the deployed commit's params.yaml."""
    from flows.forms import chosen_values, parse_sets

    overrides = parse_sets(sets)
    if not overrides:
        return {}
    if name == "pipeline":
        return {top: chosen_values(top, overrides) for top in ("ner", "tags")}
    return chosen_values(deploy.GPU_DEPLOYMENTS.get(name, name), overrides)


def submit(name: str, sets: list[str], wait: bool) -> int:
    config = load()
    check_reachable(config)
    parameters = _parameters(name, sets)
    from prefect.deployments import run_deployment

    flow = deploy.load_flows()[deploy.GPU_DEPLOYMENTS.get(name, name)]
    run = run_deployment(f"{flow.name}/{name}", parameters=parameters, timeout=0)
    pool = deploy.gpu_pool(config) if name in deploy.GPU_DEPLOYMENTS else config.pool
    print(f"submitted flow run {run.name} ({run.id}) to work pool {pool!r}\n"
          f"  http://{config.host}:{config.prefect_port}/runs/flow-run/{run.id}", flush=True)
    return wait_for(str(run.id), config.prefect_api) if wait else 0


def flow_run_state(flow_run_id: str) -> str:
    import asyncio

    from prefect import get_client

    async def read():
        async with get_client() as client:
            return (await client.read_flow_run(flow_run_id)).state

    state = asyncio.run(read())
    return state.type.value if state else "PENDING"


def wait_for(flow_run_id: str, server: str, poll: float = 3.0, patience: float = 180.0) -> int:
    """Poll the run until it ends; a Prefect server that restarts meanwhile is waited for
    (up to ``patience`` seconds of silence)."""
    import httpx

    heard = time.monotonic()
    while True:
        try:
            state = flow_run_state(flow_run_id)
            heard = time.monotonic()
        except (httpx.TransportError, OSError) as err:
            if time.monotonic() - heard > patience:
                raise ClusterError(f"the Prefect server at {server} has not answered for "
                                   f"{patience:.0f} s ({type(err).__name__}); flow run {flow_run_id} may still be "
                                   f"running: see the Prefect UI") from None
            print(f"the Prefect server is not answering ({type(err).__name__}); waiting", flush=True)
            state = None
        if state in FINAL:
            break
        time.sleep(poll)
    print(f"flow run {flow_run_id}: {state}")
    return 0 if state == "COMPLETED" else 1


def retry(flow_run_id: str) -> None:
    """What the UI's Retry does: the run goes back to Scheduled and an idle worker takes it."""
    import asyncio

    from prefect import get_client
    from prefect.states import Scheduled

    async def reschedule():
        async with get_client() as client:
            await client.set_flow_run_state(flow_run_id, Scheduled(name="AwaitingRetry"), force=True)

    check_reachable(load())
    asyncio.run(reschedule())
    print(f"flow run {flow_run_id}: scheduled again; the next idle worker runs it")


def restart(name: str) -> None:
    config = load()
    (service,) = [s for s in services.all_services(config) if s.name == name] or [None]
    if service is None:
        raise ClusterError(f"no service {name!r}; one of: {', '.join(s.name for s in services.all_services(config))}")
    stop_service(service)
    start_service(service, 300.0)
    print(f"{name}: restarted (pid {running_pid(service)})")


def _pairs(items: list[str]) -> dict[str, str]:
    pairs = dict(item.split("=", 1) for item in items if "=" in item)
    if len(pairs) != len(items):
        raise ClusterError(f"--env takes KEY=VALUE, got {[i for i in items if '=' not in i]}")
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.cluster", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("start")
    sub.add_parser("stop")
    sub.add_parser("status")
    p = sub.add_parser("submit")
    p.add_argument("name", choices=sorted([*deploy.DEPLOYMENTS, *deploy.GPU_DEPLOYMENTS]))
    p.add_argument("-S", "--set", action="append", default=[], dest="sets", metavar="KEY=VALUE")
    p.add_argument("--wait", action="store_true", help="wait for the run to end; exit 1 unless it completed")
    sub.add_parser("retry").add_argument("flow_run_id")
    sub.add_parser("restart").add_argument("service")
    p = sub.add_parser("invite", help="credentials for a worker on another host")
    p.add_argument("worker")
    p.add_argument("--gpu", action="store_true", help="the worker takes the GPU pool's runs (ner-gpu)")
    p = sub.add_parser("join", help="start a worker on this host with an invite's credentials file")
    p.add_argument("credentials", type=Path)
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="for its flow runs")
    sub.add_parser("leave", help="stop the worker this host joined")
    args = parser.parse_args(argv)
    quiet_environment()
    try:
        if args.command in {"submit", "retry"}:
            os.environ.update(auth.admin_credentials(load()).client_env())  # before Prefect reads its settings
        if args.command == "start":
            start()
        elif args.command == "stop":
            stop()
        elif args.command == "status":
            sys.exit(status())
        elif args.command == "submit":
            sys.exit(submit(args.name, args.sets, args.wait))
        elif args.command == "retry":
            retry(args.flow_run_id)
        elif args.command == "invite":
            path = remote.invite(load(), args.worker, args.gpu)
            print(remote.invited_message(args.worker, path))
        elif args.command == "join":
            service = remote.join(args.credentials, _pairs(args.env))
            print(f"{service.name}: joined; stop it with `python -m flows.cluster leave`")
        elif args.command == "leave":
            remote.leave()
        else:
            restart(args.service)
    except (ClusterError, ServiceError, ParamsError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
