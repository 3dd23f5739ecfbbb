"""The cluster's processes, in start order, and how to tell each one answers.

PostgreSQL, then the Prefect server and the MLflow server on their databases, the
janitor, and one Prefect worker per workspace. Each is a flows.processes.Service: own
session, pid file and log under the state folder; each inherits the environment of the
command that starts it, which `python -m flows.cluster` has quietened (no telemetry).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from flows.cluster import postgres
from flows.cluster.config import ClusterConfig
from flows.processes import HOST, Service, http_get
from tasks.common.settings import env_name

BIN = Path(sys.executable).parent
def prefect_ready(config: ClusterConfig) -> bool:
    """The API answers and its database is connectable (/api/ready checks both)."""
    return json.loads(http_get(f"{config.prefect_api}/ready", timeout=3.0)).get("message") == "OK"


def mlflow_ready(config: ClusterConfig) -> bool:
    return http_get(f"{config.mlflow_uri}/health", timeout=3.0).strip() == b"OK"


def online_workers(config: ClusterConfig) -> set[str]:
    rows = json.loads(http_get(f"{config.prefect_api}/work_pools/{config.pool}/workers/filter", b"{}", timeout=3.0))
    return {row["name"] for row in rows if row.get("status") == "ONLINE"}


def worker_env(config: ClusterConfig, worker: str) -> dict[str, str]:
    """What a worker (and every flow run it starts) sees: the two servers, its workspace,
    its name, the shared DVC remote, and flow-run heartbeats for crash detection."""
    from flows.cluster.config import SHARED_REMOTE

    ws = config.workspace(worker)
    return {"PREFECT_API_URL": config.prefect_api, "MLFLOW_TRACKING_URI": config.mlflow_uri,
            env_name("mlflow_ui"): config.mlflow_uri, env_name("workspace"): str(ws), env_name("worker"): worker,
            env_name("dvc_shared_remote"): SHARED_REMOTE, "PREFECT_HOME": str(config.root / "homes" / worker),
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(config.heartbeat_s), "PYTHONPATH": str(ws),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}


def servers(config: ClusterConfig) -> list[Service]:
    home = {"PREFECT_HOME": str(config.root / "homes" / "server")}
    return [
        postgres.service(config),
        Service("prefect-server", [str(BIN / "prefect"), "server", "start", "--host", HOST,
                                   "--port", str(config.prefect_port), "--workers", "1"], config.prefect_port,
                config.root, lambda: prefect_ready(config),
                {**home, "PREFECT_API_DATABASE_CONNECTION_URL": config.database_url("prefect", "postgresql+asyncpg"),
                 "PREFECT_UI_API_URL": config.prefect_api}, config.root, port_hint="set GNN_CLUSTER_PREFECT_PORT"),
        Service("mlflow-server", [str(BIN / "mlflow"), "server", "--backend-store-uri", config.database_url("mlflow", "postgresql+psycopg2"),
                                  "--artifacts-destination", str(config.root / "mlflow-artifacts"),
                                  "--host", HOST, "--port", str(config.mlflow_port), "--workers", "1"],
                config.mlflow_port, config.root, lambda: mlflow_ready(config), home, config.root,
                port_hint="set GNN_CLUSTER_MLFLOW_PORT"),
    ]


def janitor(config: ClusterConfig) -> Service:
    env = {"PREFECT_API_URL": config.prefect_api, env_name("cluster_dir"): config.state,
           "PREFECT_HOME": str(config.root / "homes" / "janitor"), "PYTHONPATH": config.project}
    return Service("janitor", [sys.executable, "-m", "flows.cluster.janitor"], None, config.root,
                   lambda: True, env, Path(config.project))


def worker(config: ClusterConfig, name: str) -> Service:
    # --limit 1: one flow run per workspace at a time (its DVC lock allows no more).
    cmd = [str(BIN / "prefect"), "worker", "start", "--pool", config.pool, "--name", name, "--type", "process",
           "--limit", "1"]
    return Service(name, cmd, None, config.root, lambda: name in online_workers(config),
                   worker_env(config, name), config.workspace(name))


def all_services(config: ClusterConfig) -> list[Service]:
    return [*servers(config), janitor(config), *(worker(config, name) for name in config.worker_names)]
