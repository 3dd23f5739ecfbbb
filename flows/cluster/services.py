"""The cluster's processes, in start order, and how to tell each one answers.

PostgreSQL, then the Prefect server and the MLflow server on their databases (and, on a
network address, sshd for the DVC remote), the janitor, and one Prefect worker per
workspace; `join` starts the same worker on another host (flows/cluster/remote.py).
Each is a flows.processes.Service: own session, pid file and log under the state folder;
each inherits the environment of the command that starts it, which `python -m
flows.cluster` has quietened (no telemetry).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from flows.cluster import postgres, ssh
from flows.cluster.auth import Credentials, admin_credentials, mlflow_server_env
from flows.cluster.config import SHARED_REMOTE, ClusterConfig
from flows.processes import BIN, Service, http_get, mlflow_server_cmd, prefect_server_cmd
from tasks.common.settings import env_name


def prefect_ready(config: ClusterConfig) -> bool:
    """The API answers and its database is connectable (/api/ready checks both; it needs
    no credentials)."""
    return json.loads(http_get(f"{config.prefect_api}/ready", timeout=3.0)).get("message") == "OK"


def mlflow_ready(config: ClusterConfig) -> bool:
    return http_get(f"{config.mlflow_uri}/health", timeout=3.0).strip() == b"OK"


def online_workers(prefect_api: str, pool: str, auth: str = "") -> set[str]:
    rows = json.loads(http_get(f"{prefect_api}/work_pools/{pool}/workers/filter", b"{}", timeout=3.0,
                               auth=auth or None))
    return {row["name"] for row in rows if row.get("status") == "ONLINE"}


def worker_env(creds: Credentials, workspace: Path, home: Path) -> dict[str, str]:
    """What a worker (and every flow run it starts) sees: the two servers and its
    credentials, its workspace, its name, the shared DVC remote, and flow-run heartbeats
    for crash detection."""
    return {**creds.client_env(), env_name("workspace"): str(workspace), env_name("worker"): creds.name,
            env_name("dvc_shared_remote"): SHARED_REMOTE, "PREFECT_HOME": str(home),
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(creds.heartbeat_s), "PYTHONPATH": str(workspace),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}


def worker_service(creds: Credentials, state: Path, workspace: Path) -> Service:
    """A Prefect worker taking runs from the pool into ``workspace``, on this host or another."""
    # --limit 1: one flow run per workspace at a time (its DVC lock allows no more).
    cmd = [str(BIN / "prefect"), "worker", "start", "--pool", creds.pool, "--name", creds.name, "--type", "process",
           "--limit", "1"]
    home = state / "homes" / creds.name
    home.mkdir(parents=True, exist_ok=True)
    return Service(creds.name, cmd, None, state,
                   lambda: creds.name in online_workers(creds.prefect_api, creds.pool, creds.prefect_auth),
                   worker_env(creds, workspace, home), workspace)


def local_credentials(config: ClusterConfig, worker: str) -> Credentials:
    """A worker on the server host: its own MLflow user when the cluster is secured
    (saved by `start`, flows/cluster/remote.py: invite_local_workers), the remote as a folder."""
    saved = config.root / "credentials" / f"{worker}.json"
    if config.secured and saved.exists():
        return Credentials.load(saved)
    return replace(admin_credentials(config, worker), mlflow_user="", mlflow_password="")


def servers(config: ClusterConfig) -> list[Service]:
    home = {"PREFECT_HOME": str(config.root / "homes" / "server")}
    prefect_env = {**home, "PREFECT_API_DATABASE_CONNECTION_URL": config.database_url("prefect", "postgresql+asyncpg"),
                   "PREFECT_UI_API_URL": config.prefect_api}
    mlflow_cmd = mlflow_server_cmd(config.bind, config.mlflow_port, "--artifacts-destination",
                                   str(config.root / "mlflow-artifacts"))
    if config.secured:
        prefect_env["PREFECT_SERVER_API_AUTH_STRING"] = config.prefect_auth
        mlflow_cmd += ["--app-name", "basic-auth",
                       "--allowed-hosts", f"{config.host},{config.host}:{config.mlflow_port},localhost,127.0.0.1"]
    return [
        postgres.service(config),
        Service("prefect-server", prefect_server_cmd(config.bind, config.prefect_port), config.prefect_port,
                config.root, lambda: prefect_ready(config), prefect_env, config.root,
                port_hint="set GNN_CLUSTER_PREFECT_PORT", host=config.bind),
        Service("mlflow-server", mlflow_cmd, config.mlflow_port, config.root, lambda: mlflow_ready(config),
                {**home, **mlflow_server_env(config)}, config.root, port_hint="set GNN_CLUSTER_MLFLOW_PORT",
                host=config.bind),
        *([ssh.service(config)] if config.secured else []),
    ]


def janitor(config: ClusterConfig) -> Service:
    env = {**admin_credentials(config).client_env(), env_name("cluster_dir"): config.state,
           "PREFECT_HOME": str(config.root / "homes" / "janitor"), "PYTHONPATH": config.project}
    return Service("janitor", [sys.executable, "-m", "flows.cluster.janitor"], None, config.root,
                   lambda: True, env, Path(config.project))


def worker(config: ClusterConfig, name: str) -> Service:
    return worker_service(local_credentials(config, name), config.root, config.workspace(name))


def all_services(config: ClusterConfig) -> list[Service]:
    return [*servers(config), janitor(config), *(worker(config, name) for name in config.worker_names)]
