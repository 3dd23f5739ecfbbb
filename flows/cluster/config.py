"""Where the cluster lives and how to reach it.

Chosen once, by ``start``, from the environment (ports, number of workers, state folder)
and kept in ``<state>/cluster.json`` (mode 0600: it holds the database password), so
that ``status``, ``stop`` and ``submit`` talk to the same services without the same
environment. By default everything binds to 127.0.0.1; with GNN_CLUSTER_BIND set to a
network address the Prefect and MLflow servers (and an SSH server for the DVC remote)
listen there, behind credentials (flows/cluster/auth.py), and PostgreSQL stays on the
server host's loopback.
"""
from __future__ import annotations

import ipaddress
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from flows.processes import HOST
from tasks.common.settings import PROJECT_ROOT, Settings, SettingsError, settings

DB_USER = "gnn"
AUTH_DATABASE = "mlflow_auth"  # MLflow's users, on a network address (flows/cluster/auth.py)
DATABASES = ("prefect", "mlflow", AUTH_DATABASE)
SHARED_REMOTE = "cluster"  # the DVC remote name every workspace pushes to and pulls from


class ClusterError(RuntimeError):
    """The cluster cannot do what was asked; the message names the part and the fix."""


def state_dir() -> Path:
    return Path(_settings().cluster_dir or PROJECT_ROOT / ".cluster").resolve()


@dataclass(frozen=True)
class ClusterConfig:
    project: str  # the project the workers clone
    state: str
    pg_port: int
    prefect_port: int
    mlflow_port: int
    workers: int
    pool: str
    password: str
    heartbeat_s: int  # flow-run heartbeat; a run silent for 2.5x this is declared Crashed
    # The rest came with network addresses; a cluster.json saved before them still loads.
    bind: str = HOST  # where the Prefect, MLflow and SSH servers listen
    ssh_port: int = 2222
    prefect_auth: str = ""  # "admin:<token>", Prefect's basic-auth string (bind not loopback)
    mlflow_admin_password: str = ""
    flask_secret: str = ""  # MLflow's auth app signs its CSRF tokens with it

    @property
    def secured(self) -> bool:
        """On a network address: credentials at every server, an SSH DVC remote."""
        return not ipaddress.ip_address(self.bind).is_loopback

    @property
    def host(self) -> str:
        """The bind address as it goes into a URL (IPv6 in brackets)."""
        return f"[{self.bind}]" if ":" in self.bind else self.bind

    @property
    def prefect_api(self) -> str:
        return f"http://{self.host}:{self.prefect_port}/api"

    @property
    def mlflow_uri(self) -> str:
        return f"http://{self.host}:{self.mlflow_port}"

    def database_url(self, name: str, driver: str = "postgresql") -> str:
        return f"{driver}://{DB_USER}:{self.password}@{HOST}:{self.pg_port}/{name}"

    @property
    def root(self) -> Path:
        return Path(self.state)

    @property
    def dvc_remote(self) -> Path:
        return self.root / "dvc-remote"

    def workspace(self, worker: str) -> Path:
        return self.root / "workspaces" / worker

    @property
    def worker_names(self) -> list[str]:
        return [f"worker-{i}" for i in range(1, self.workers + 1)]


def _settings() -> Settings:
    try:
        return settings()
    except SettingsError as err:  # names the variable, e.g. GNN_CLUSTER_WORKERS
        raise ClusterError(str(err)) from None


def new_config() -> ClusterConfig:
    """The configuration for a first start, from GNN_CLUSTER_* (validated before any work);
    a later start reuses the saved one so the database password and ports stay."""
    saved = load(required=False)
    if saved is not None:
        return saved
    env = _settings()
    bind = env.cluster_bind
    if bind.is_unspecified:
        raise ClusterError(f"GNN_CLUSTER_BIND={bind}: give the one address the worker hosts reach "
                           f"(e.g. 10.0.0.1), not a wildcard")
    return ClusterConfig(
        project=str(PROJECT_ROOT), state=str(state_dir()), pg_port=env.cluster_pg_port,
        prefect_port=env.cluster_prefect_port, mlflow_port=env.cluster_mlflow_port, workers=env.cluster_workers,
        pool=env.cluster_pool, password=secrets.token_hex(16), heartbeat_s=env.cluster_heartbeat_s,
        bind=str(bind), ssh_port=env.cluster_ssh_port, prefect_auth=f"admin:{secrets.token_urlsafe(24)}",
        mlflow_admin_password=secrets.token_urlsafe(24), flask_secret=secrets.token_hex(32))


def config_file() -> Path:
    return state_dir() / "cluster.json"


def save(config: ClusterConfig) -> None:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(config), indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


def load(required: bool = True) -> ClusterConfig | None:
    path = config_file()
    try:
        return ClusterConfig(**json.loads(path.read_text()))
    except FileNotFoundError:
        if required:
            raise ClusterError(f"no cluster here ({path} does not exist): start one with `make cluster`") from None
        return None
    except (ValueError, TypeError) as err:
        raise ClusterError(f"{path} is not a cluster configuration ({err}); "
                           f"remove {state_dir()} and run `make cluster` again") from None
