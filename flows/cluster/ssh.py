"""The network DVC remote of a cluster on a network address: the shared remote folder
served over SSH (SFTP only) by an ``sshd`` the cluster starts itself, with its own host
key and one key per invited worker.

The server host's own workers keep using the folder directly; a worker on another host
reaches it as ``ssh://USER@ADDRESS:PORT/FOLDER`` with dvc-ssh. Each worker key may only
speak SFTP (``restrict`` in authorized_keys, ``ForceCommand internal-sftp``): no shell,
no forwarding. Debian's ``openssh-server`` provides sshd (``make test`` installs it).
"""
from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
from pathlib import Path

from flows.cluster.config import ClusterConfig, ClusterError
from flows.processes import Service


def ssh_dir(config: ClusterConfig) -> Path:
    return config.root / "ssh"


def sshd_bin() -> str:
    for candidate in (shutil.which("sshd"), "/usr/sbin/sshd"):
        if candidate and Path(candidate).exists():
            return candidate
    raise ClusterError("a cluster on a network address serves its DVC remote over SSH, and sshd is not installed: "
                       "install it (`apt-get install openssh-server`)")


def _keygen(path: Path, comment: str) -> None:
    proc = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ClusterError(f"ssh-keygen failed for {path}: {proc.stderr.strip()}")


def remote_url(config: ClusterConfig) -> str:
    return f"ssh://{getpass.getuser()}@{config.host}:{config.ssh_port}{config.dvc_remote}"


def known_hosts_line(config: ClusterConfig) -> str:
    """The host key as a known_hosts line for ``[address]:port``."""
    key = (ssh_dir(config) / "host_ed25519.pub").read_text().split()[:2]
    return f"[{config.bind}]:{config.ssh_port} {' '.join(key)}"


def new_client_key(config: ClusterConfig, name: str) -> str:
    """A fresh key pair for worker ``name``: the public half goes into authorized_keys
    (restricted to SFTP), the private half is returned for its credentials file."""
    folder = ssh_dir(config)
    key = folder / f"client-{name}"
    for path in (key, key.with_suffix(".pub")):
        path.unlink(missing_ok=True)
    _keygen(key, f"gnn-cluster-worker:{name}")
    public = key.with_suffix(".pub").read_text().strip()
    authorized = folder / "authorized_keys"
    kept = [line for line in (authorized.read_text().splitlines() if authorized.exists() else [])
            if not line.endswith(f"gnn-cluster-worker:{name}")]  # an invited-again worker's old key goes
    authorized.write_text("\n".join([*kept, f"restrict {public}"]) + "\n")
    authorized.chmod(0o600)
    private = key.read_text()
    key.unlink()
    key.with_suffix(".pub").unlink()
    return private


def prepare(config: ClusterConfig) -> None:
    """The host key (made once), an authorized_keys file and sshd's config file."""
    if os.geteuid() == 0:  # sshd run by root wants its privilege-separation folder
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    folder = ssh_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    host_key = folder / "host_ed25519"
    if not host_key.exists():
        _keygen(host_key, "gnn-cluster-host")
    authorized = folder / "authorized_keys"
    if not authorized.exists():
        authorized.touch(mode=0o600)
    (folder / "sshd_config").write_text("\n".join([
        f"ListenAddress {config.host}:{config.ssh_port}", f"HostKey {host_key}", "PidFile none",
        f"AuthorizedKeysFile {authorized}", f"AllowUsers {getpass.getuser()}",
        "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no",
        "AllowTcpForwarding no", "X11Forwarding no", "PermitTunnel no",
        "Subsystem sftp internal-sftp", "ForceCommand internal-sftp", ""]))


def _answers(config: ClusterConfig) -> bool:
    with socket.create_connection((config.bind, config.ssh_port), timeout=3) as conn:
        return conn.recv(64).startswith(b"SSH-2.0")


def service(config: ClusterConfig) -> Service:
    cmd = [sshd_bin(), "-D", "-e", "-f", str(ssh_dir(config) / "sshd_config")]
    return Service("sshd", cmd, config.ssh_port, config.root, lambda: _answers(config), host=config.bind,
                   port_hint="set GNN_CLUSTER_SSH_PORT")
