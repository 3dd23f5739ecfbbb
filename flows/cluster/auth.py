"""Credentials of a cluster on a network address (GNN_CLUSTER_BIND not loopback).

- Prefect: the server's basic-auth string (``PREFECT_SERVER_API_AUTH_STRING``); Prefect's
  open-source server knows one credential, so every client shares it.
- MLflow: its basic-auth app with a generated admin and one user per worker; every user
  may read and write every experiment (``default_permission = EDIT``), only the admin
  manages users.
- PostgreSQL: listens on the server host's loopback only, so no other host reaches it.

Secrets are generated, kept in files of mode 0600 (cluster.json, the MLflow auth config,
a worker's credentials file), passed to processes through their environment, never on a
command line, in a log, an MLflow parameter or a Prefect parameter.
"""
from __future__ import annotations

import json
import os
import secrets
import urllib.error
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

from flows.cluster.config import AUTH_DATABASE, DB_USER, ClusterConfig, ClusterError
from flows.processes import HOST, http_get
from tasks.common.settings import env_name

ADMIN = "admin"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)
    tmp.replace(path)


@dataclass(frozen=True)
class Credentials:
    """What a worker needs to take runs from the cluster: `invite` writes it (0600) on
    the server host, `join` reads it on the worker host."""
    name: str
    pool: str
    heartbeat_s: int
    prefect_api: str
    prefect_auth: str
    mlflow_uri: str
    mlflow_user: str
    mlflow_password: str
    dvc_remote: str  # ssh://user@host:port/path, or a folder on the server host
    ssh_key: str = ""  # OpenSSH private key for the DVC remote
    ssh_host_key: str = ""  # the SSH server's known_hosts line

    def client_env(self) -> dict[str, str]:
        """The environment of a process that talks to both servers as this worker."""
        env = {"PREFECT_API_URL": self.prefect_api, "MLFLOW_TRACKING_URI": self.mlflow_uri,
               env_name("mlflow_ui"): self.mlflow_uri}
        if self.prefect_auth:
            env["PREFECT_API_AUTH_STRING"] = self.prefect_auth
        if self.mlflow_user:
            env.update(MLFLOW_TRACKING_USERNAME=self.mlflow_user, MLFLOW_TRACKING_PASSWORD=self.mlflow_password)
        return env

    def save(self, path: Path) -> None:
        write_private(path, json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> "Credentials":
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise ClusterError(f"no credentials file {path}: make one on the server host with "
                               f"`python -m flows.cluster invite NAME` and copy it here") from None
        except ValueError as err:
            raise ClusterError(f"{path} is not a credentials file (not JSON: {err})") from None
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in raw]
        if missing:
            raise ClusterError(f"{path}: missing key(s) {', '.join(missing)}; make it again with "
                               f"`python -m flows.cluster invite NAME`")
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})


def admin_credentials(config: ClusterConfig, name: str = "cluster") -> Credentials:
    """The server host's own clients (the command line, the janitor) on the servers."""
    return Credentials(name=name, pool=config.pool, heartbeat_s=config.heartbeat_s,
                       prefect_api=config.prefect_api, prefect_auth=config.prefect_auth if config.secured else "",
                       mlflow_uri=config.mlflow_uri, mlflow_user=ADMIN if config.secured else "",
                       mlflow_password=config.mlflow_admin_password if config.secured else "",
                       dvc_remote=str(config.dvc_remote))


def mlflow_auth_config(config: ClusterConfig) -> Path:
    """MLflow's basic-auth config (0600: it holds the admin's first password); its user
    store is a database of the cluster's PostgreSQL."""
    path = config.root / "mlflow-auth.ini"
    write_private(path, "\n".join([
        "[mlflow]", "default_permission = EDIT",
        f"database_uri = postgresql+psycopg2://{DB_USER}:{config.password}@{HOST}:{config.pg_port}/{AUTH_DATABASE}",
        f"admin_username = {ADMIN}", f"admin_password = {config.mlflow_admin_password}",
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        # Without the cache every request hashes the password again (PBKDF2, ~0.5 s on 2
        # cores): logging a model, which reads each metric's history, took minutes. A
        # changed or revoked password takes effect within this time.
        "auth_cache_ttl_seconds = 60", ""]))
    return path


def mlflow_server_env(config: ClusterConfig) -> dict[str, str]:
    env = {"MLFLOW_BACKEND_STORE_URI": config.database_url("mlflow", "postgresql+psycopg2")}
    if config.secured:
        env.update(MLFLOW_AUTH_CONFIG_PATH=str(mlflow_auth_config(config)),
                   MLFLOW_FLASK_SERVER_SECRET_KEY=config.flask_secret)
    return env


def add_mlflow_user(config: ClusterConfig, name: str) -> str:
    """Create the MLflow user ``name`` (or give it a new password) and return its password."""
    password = secrets.token_urlsafe(24)
    admin = f"{ADMIN}:{config.mlflow_admin_password}"
    body = json.dumps({"username": name, "password": password}).encode()
    try:
        http_get(f"{config.mlflow_uri}/api/2.0/mlflow/users/create", body, auth=admin)
    except urllib.error.HTTPError as err:
        if err.code != 400:  # 400: RESOURCE_ALREADY_EXISTS
            raise ClusterError(f"the MLflow server at {config.mlflow_uri} refused to create user {name!r} "
                               f"(HTTP {err.code})") from None
        http_get(f"{config.mlflow_uri}/api/2.0/mlflow/users/update-password", body, auth=admin, method="PATCH")
    return password


def check_credentials(creds: Credentials, source: str) -> None:
    """Ask each server something only an authenticated client may; a refusal names the
    server and ``source`` (where the credentials came from) instead of a traceback."""
    probes = [("Prefect", creds.prefect_api, f"{creds.prefect_api}/work_pools/filter", b'{"limit": 1}',
               creds.prefect_auth),
              ("MLflow", creds.mlflow_uri, f"{creds.mlflow_uri}/api/2.0/mlflow/experiments/search?max_results=1",
               None, f"{creds.mlflow_user}:{creds.mlflow_password}" if creds.mlflow_user else None)]
    for server, url, probe, body, auth in probes:
        try:
            http_get(probe, body, timeout=10, auth=auth)
        except urllib.error.HTTPError as err:
            if err.code in (401, 403):
                raise ClusterError(f"the {server} server at {url} refused the credentials (HTTP {err.code}"
                                   f"{' ' + err.reason if err.reason else ''}): "
                                   f"{'none were given' if not auth else 'they are wrong or revoked'}; "
                                   f"check {source}") from None
            raise ClusterError(f"the {server} server at {url} answered HTTP {err.code} ({err.reason})") from None
        except OSError as err:
            raise ClusterError(f"the {server} server at {url} is not reachable "
                               f"({getattr(err, 'reason', err)})") from None
