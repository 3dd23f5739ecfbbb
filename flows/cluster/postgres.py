"""The cluster's PostgreSQL: one database cluster in the project's state folder, run as
an unprivileged user (PostgreSQL refuses to run as root), listening on 127.0.0.1 only
(no Unix socket), password authentication, and one database each for Prefect and MLflow.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from flows.cluster.config import DATABASES, DB_USER, ClusterConfig, ClusterError
from flows.processes import HOST, Service
from tasks.common.settings import settings


def bin_dir() -> Path:
    """The folder of initdb and postgres: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    raise ClusterError("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin); "
                       "install it, e.g. `apt-get install postgresql`")


def run_as() -> str | None:
    """The user PostgreSQL runs as: ourselves, or, when we are root, ``postgres`` (or
    GNN_CLUSTER_PG_USER), which Debian's package creates."""
    if os.geteuid() != 0:
        return None
    name = settings().cluster_pg_user
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise ClusterError(f"running as root, and PostgreSQL refuses root: create the user {name!r} "
                           f"(`useradd --system {name}`) or set GNN_CLUSTER_PG_USER to an unprivileged user") from None
    return name


def data_dir(config: ClusterConfig) -> Path:
    return config.root / "postgres"


def initialise(config: ClusterConfig) -> bool:
    """initdb the database cluster once; False if it already exists."""
    data = data_dir(config)
    if (data / "PG_VERSION").exists():
        return False
    user = run_as()
    data.mkdir(parents=True, mode=0o700)
    pwfile = config.root / "pgpass.tmp"
    pwfile.write_text(config.password + "\n")
    pwfile.chmod(0o600)
    try:
        if user:
            entry = pwd.getpwnam(user)
            for path in (data, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        proc = subprocess.run([str(bin_dir() / "initdb"), "-D", str(data), "-U", DB_USER, f"--pwfile={pwfile}",
                               "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
                              user=user, capture_output=True, text=True)
    finally:
        pwfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)  # no half-initialised cluster left behind
        hint = (f" (user {user!r} must be able to reach {data}: every parent folder needs o+x, "
                f"or set GNN_CLUSTER_DIR to a folder it can reach)" if user and "ermission" in proc.stderr else "")
        raise ClusterError(f"initdb failed{hint}:\n{proc.stderr.strip()[-2000:]}")
    return True


def service(config: ClusterConfig) -> Service:
    cmd = [str(bin_dir() / "postgres"), "-D", str(data_dir(config)), "-p", str(config.pg_port), "-h", HOST,
           "-c", "unix_socket_directories=", "-c", "max_connections=200"]
    # SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to leave).
    return Service("postgres", cmd, config.pg_port, config.root, lambda: can_connect(config), user=run_as(),
                   stop_signal=signal.SIGINT, port_hint="set GNN_CLUSTER_PG_PORT")


def connect(config: ClusterConfig, database: str = "postgres", timeout: int = 3):
    import psycopg2

    return psycopg2.connect(host=HOST, port=config.pg_port, user=DB_USER, password=config.password,
                            dbname=database, connect_timeout=timeout)


def can_connect(config: ClusterConfig, database: str = "postgres") -> bool:
    import psycopg2

    try:
        connect(config, database).close()
        return True
    except psycopg2.OperationalError:
        return False


def create_databases(config: ClusterConfig) -> None:
    conn = connect(config)
    conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cur:
            for name in DATABASES:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
