"""Workers on other hosts: `invite` on the server host writes a worker's credentials
file, `join` on the worker host starts a worker with it, `leave` stops it.

    server host:  python -m flows.cluster invite gpu-1          # -> .cluster/credentials/gpu-1.json
    worker host:  python -m flows.cluster join gpu-1.json        # from a clone of the project
                  python -m flows.cluster leave

A joined worker is the same Prefect worker as a local one: its own workspace (a clone of
the clone it was started from, fetching deployed commits from that clone's origin), the
two servers with its own MLflow user, and the DVC remote over SSH. Extra environment for
its flow runs (``KERAS_BACKEND=jax`` on a GPU host) is passed with ``--env``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

from flows.cluster import auth, ssh, workspace
from flows.cluster.auth import Credentials
from flows.cluster.config import ClusterConfig, ClusterError, state_dir
from flows.cluster.deploy import gpu_pool
from flows.cluster.services import local_credentials, worker_service
from flows.processes import Service, ensure_started, stop_service
from tasks.common.settings import PROJECT_ROOT

JOINED = "joined.json"  # on a worker host: the credentials it joined with (0600)


def credentials_file(config: ClusterConfig, name: str) -> Path:
    return config.root / "credentials" / f"{name}.json"


def invite(config: ClusterConfig, name: str, gpu: bool = False) -> Path:
    """A new MLflow user and SSH key for worker ``name`` (a second invite replaces both),
    written with the servers' addresses to a credentials file of mode 0600; ``gpu``: the
    worker takes the GPU pool's runs (deployment ner-gpu, KERAS_BACKEND=jax)."""
    if not config.secured:
        raise ClusterError("this cluster listens on 127.0.0.1 only, so no other host can join it: start it on a "
                           "network address (GNN_CLUSTER_BIND=10.0.0.1 make cluster; docs/scaling.md)")
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ClusterError(f"worker name {name!r}: use letters, digits, - and _ only")
    creds = replace(auth.admin_credentials(config, name), pool=gpu_pool(config) if gpu else config.pool,
                    mlflow_user=name, mlflow_password=auth.add_mlflow_user(config, name),
                    dvc_remote=ssh.remote_url(config),
                    ssh_key=ssh.new_client_key(config, name), ssh_host_key=ssh.known_hosts_line(config))
    path = credentials_file(config, name)
    creds.save(path)
    return path


def invited_message(name: str, path: Path) -> str:
    """What `invite` prints; :func:`credentials_in` reads the file's path back from it."""
    return (f"{name}: credentials in {path} (mode 0600; holds secrets). Copy it to the worker host and run "
            f"there, in a clone of the project:\n  python -m flows.cluster join {path.name}")


def credentials_in(invite_output: str) -> Path:
    """The credentials file named in `invite`'s output (:func:`invited_message`)."""
    return Path(invite_output.split(": credentials in ", 1)[1].split(" (mode 0600;", 1)[0])


def _trust_host_key(line: str) -> None:
    """Add the SSH server's key to ~/.ssh/known_hosts (dvc-ssh checks the host against it)."""
    known = Path.home() / ".ssh" / "known_hosts"
    known.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lines = known.read_text().splitlines() if known.exists() else []
    if line not in lines:
        host = line.split()[0]
        known.write_text("\n".join([*(x for x in lines if x.split()[:1] != [host]), line]) + "\n")


def _worker(creds: Credentials, extra_env: dict[str, str]) -> Service:
    root = state_dir()
    service = worker_service(creds, root, root / "workspaces" / creds.name)
    service.env.update(extra_env)
    return service


def join(path: Path, extra_env: dict[str, str], timeout: float = 300.0) -> Service:
    """Check the credentials at both servers, set up this host's workspace (remote over
    SSH with the worker's key) and start its worker."""
    creds = auth.Credentials.load(path)
    auth.check_credentials(creds, str(path))
    root = state_dir()
    saved = root / JOINED
    auth.write_private(saved, json.dumps({"credentials": asdict(creds), "env": extra_env}, indent=2))
    keyfile = root / "ssh" / f"{creds.name}_key"
    if creds.ssh_key:
        auth.write_private(keyfile, creds.ssh_key)
        _trust_host_key(creds.ssh_host_key)
    print(f"{creds.name}: workspace {root / 'workspaces' / creds.name} (data from {creds.dvc_remote}) ...", flush=True)
    workspace.clone(PROJECT_ROOT, root / "workspaces" / creds.name,
                    creds.dvc_remote if creds.dvc_remote.startswith("ssh://") else Path(creds.dvc_remote),
                    keyfile if creds.ssh_key else None, upstream=True)
    service = _worker(creds, extra_env)
    ensure_started(service, timeout, [])
    return service


def joined() -> Service | None:
    """The worker this host joined, if any."""
    try:
        record = json.loads((state_dir() / JOINED).read_text())
    except FileNotFoundError:
        return None
    return _worker(Credentials(**record["credentials"]), record["env"])


def leave() -> None:
    service = joined()
    if service is None:
        print(f"no worker joined from here ({state_dir() / JOINED} does not exist)")
        return
    print(f"{service.name}: {'stopped' if stop_service(service) else 'not running'}")


def invite_local_workers(config: ClusterConfig) -> None:
    """On a network address the server host's own workers get MLflow users too."""
    if config.secured:
        for name in config.worker_names:
            if not credentials_file(config, name).exists():
                creds = replace(local_credentials(config, name), mlflow_user=name,
                                mlflow_password=auth.add_mlflow_user(config, name))
                creds.save(credentials_file(config, name))

