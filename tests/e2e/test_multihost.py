"""End to end across hosts: a server host and two worker hosts, each its own network
namespace with its own address on a private subnet (benchmarks/netns.py), plus a fourth host
with only a fresh clone.

The server host runs `make cluster` on its network address (GNN_CLUSTER_BIND) with no
local worker: PostgreSQL on its loopback, Prefect and MLflow behind credentials, the DVC
remote over SSH. Each worker host joins with an invite's credentials file and takes runs:
both flows run on the remote workers, though one worker's link goes down mid-stage and
the server's Prefect and MLflow restart mid-run. Then: results in the servers'
PostgreSQL, every remote object whole, every stage restorable on the fourth host from
the SSH remote alone; without credentials, with wrong ones, or to PostgreSQL the servers
refuse, naming the server; no secret in a log, an MLflow parameter or a Prefect parameter.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import netns
from flows.cluster.remote import credentials_in
from tests.outputs import half_written, remote_files
from tests.support import TINY_NER, TINY_TAGS, commit_data, log_tails, make_project, run_ok, wait_until
from tests.synthetic import write_citeulike_slice, write_conll_slice

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500),
              pytest.mark.skipif(netns.available() is not None, reason=f"multi-host: {netns.available()}")]
CLI = [sys.executable, "-m", "flows.cluster"]
PORTS = {"PG": "5433", "PREFECT": "4300", "MLFLOW": "5300", "SSH": "2222"}  # every host has its own ports
LINK_DOWN_S = 20


def _probe(net: netns.Network, host: str, code: str, *args: str, env: dict | None = None) -> str:
    """Run a Python snippet on ``host``; its stdout."""
    proc = subprocess.run(net.cmd(host, [sys.executable, "-c", code, *args]), capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


HTTP_STATUS = """
import sys, urllib.request, urllib.error, base64
url, body, auth = sys.argv[1], sys.argv[2].encode() or None, sys.argv[3]
request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
if auth:
    request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
try:
    with urllib.request.urlopen(request, timeout=10) as reply:
        print(reply.status, reply.read().decode() if len(sys.argv) > 4 else "")
except urllib.error.HTTPError as err:
    print(err.code)
"""
CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close(); print("open")
except OSError as err:
    print(type(err).__name__)
"""
MLFLOW_RUNS = """
import json, sys, os, mlflow
client = mlflow.MlflowClient(sys.argv[1])
ids = [e.experiment_id for e in client.search_experiments()]
runs = client.search_runs(ids, max_results=1000) if ids else []
print(json.dumps([{"status": r.info.status, "tags": r.data.tags, "params": r.data.params} for r in runs]))
"""


@pytest.fixture
def network():
    net = netns.Network(["server", "worker-a", "worker-b", "fresh"])
    yield net
    net.remove()


def _host_env(env: dict, root: Path, host: str) -> dict:
    home = root / host / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {**env, "HOME": str(home), "GNN_CLUSTER_DIR": str(root / host / "state")}


def _clone(proj: Path, root: Path, host: str, env: dict) -> Path:
    clone = root / host / "clone"
    run_ok(["git", "clone", "-q", str(proj), str(clone)], root, env)
    return clone


def _flow_runs(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r["tags"].get("kind") == "flow"]


def test_workers_on_other_hosts_run_both_flows_through_faults(tmp_path, network, cluster_dir):
    proj, env = make_project(tmp_path, {**TINY_TAGS, **TINY_NER, "tags.sage.epochs": 2})
    write_citeulike_slice(proj / "data" / "raw" / "citeulike-t")
    write_conll_slice(proj / "data" / "raw" / "conll2003")
    commit_data(proj, env, "data/raw/citeulike-t", "data/raw/conll2003")
    server = network.address("server")
    env.update({**{f"GNN_CLUSTER_{k}_PORT": v for k, v in PORTS.items()}, "GNN_CLUSTER_WORKERS": "0",
                "GNN_CLUSTER_BIND": server})
    srv_env = _host_env(env, cluster_dir, "server")
    cluster = Path(srv_env["GNN_CLUSTER_DIR"])
    on_server = lambda *argv: network.cmd("server", [*CLI, *argv])  # noqa: E731
    workers = ("worker-a", "worker-b")
    try:
        started = run_ok(on_server("start"), proj, srv_env, timeout=400).stdout
        assert "cluster ready in" in started and "invite NAME" in started, started
        config = json.loads((cluster / "cluster.json").read_text())
        assert (cluster / "cluster.json").stat().st_mode & 0o077 == 0

        # Nobody gets in without credentials, nor with wrong ones; PostgreSQL is not on the network.
        prefect, mlflow_api = f"http://{server}:4300/api", f"http://{server}:5300"
        for auth, expected in (("", "401"), ("admin:wrong", "401"), (config["prefect_auth"], "200")):
            assert _probe(network, "worker-a", HTTP_STATUS, f"{prefect}/work_pools/filter", "{}", auth) == expected
        for auth, expected in (("", "401"), ("admin:wrong", "401"),
                               (f"admin:{config['mlflow_admin_password']}", "200")):
            assert _probe(network, "worker-a", HTTP_STATUS,
                          f"{mlflow_api}/api/2.0/mlflow/experiments/search?max_results=1", "", auth) == expected
        assert _probe(network, "worker-a", CONNECT, server, PORTS["PG"]) == "ConnectionRefusedError"

        # Invite and join the two worker hosts; wrong credentials are refused with the server named.
        for host in workers:  # worker-b as a GPU host: it takes the GPU pool's ner runs, under JAX
            gpu = ["--gpu"] if host == "worker-b" else []
            creds = credentials_in(run_ok(on_server("invite", host, *gpu), proj, srv_env).stdout)
            assert creds.stat().st_mode & 0o077 == 0
            host_env = _host_env(env, cluster_dir, host)
            clone = _clone(proj, cluster_dir, host, host_env)
            host_env["PYTHONPATH"] = str(clone)
            bad = json.loads(creds.read_text())
            for key, value, message in (("mlflow_password", "wrong", f"the MLflow server at {mlflow_api} refused"),
                                        ("prefect_auth", "", f"the Prefect server at {prefect} refused")):
                tampered = cluster_dir / host / f"bad-{key}.json"
                tampered.write_text(json.dumps({**bad, key: value}))
                refused = subprocess.run(network.cmd(host, [*CLI, "join", str(tampered)]), cwd=clone, env=host_env,
                                         capture_output=True, text=True, timeout=120)
                assert refused.returncode == 1 and message in refused.stderr, refused.stderr
                assert "Traceback" not in refused.stderr
            joined = run_ok(network.cmd(host, [*CLI, "join", str(creds)]), clone, host_env, timeout=400)
            assert "joined" in joined.stdout, joined.stdout

        # Both flows at once: tags on worker-a, ner on the GPU pool's worker-b. worker-a's
        # link goes down in the middle of a stage; then the server's Prefect and MLflow restart.
        submitted = [subprocess.Popen(on_server("submit", name, "--wait"), cwd=proj, env=srv_env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for name in ("ner-gpu", "tags")]
        wait_until("a tags stage running on worker-a", lambda: "Running stage 'import_articles'" in _log(cluster_dir,
                                                                                                  "worker-a"), 300, 1)
        network.set_link("worker-a", up=False)
        time.sleep(LINK_DOWN_S)
        network.set_link("worker-a", up=True)
        for service in ("mlflow-server", "prefect-server"):
            assert f"{service}: restarted" in run_ok(on_server("restart", service), proj, srv_env).stdout
        outs = [p.communicate(timeout=900)[0] for p in submitted]
        assert [p.returncode for p in submitted] == [0, 0], "\n".join(outs) + log_tails(
            *(cluster_dir / w / "state" / "logs" / f"{w}.log" for w in workers),
            *(cluster / "logs" / f"{s}.log" for s in ("mlflow-server", "prefect-server")))
        assert "device: jax" in _log(cluster_dir, "worker-b") and "device:" not in _log(cluster_dir, "worker-a")

        admin = {**srv_env, "MLFLOW_TRACKING_USERNAME": "admin",
                 "MLFLOW_TRACKING_PASSWORD": config["mlflow_admin_password"]}
        runs = json.loads(_probe(network, "server", MLFLOW_RUNS, mlflow_api, env=admin))
        finished = [r for r in _flow_runs(runs) if r["status"] == "FINISHED"]
        assert {r["tags"]["worker"]: r["tags"]["mlflow.user"] for r in finished} == {w: w for w in workers}
        assert sorted((r["tags"]["worker"], r["tags"]["flow"]) for r in finished) == [
            ("worker-a", "tags_flow"), ("worker-b", "ner_flow")], finished
        remote = cluster / "dvc-remote"
        assert any(p.parts[-3] == "runs" or "runs" in p.parts for p in remote.rglob("*") if p.is_file())
        assert not half_written(remote_files(remote))

        # A fresh clone on a fourth host restores every stage from the SSH remote.
        creds = json.loads(credentials_in(run_ok(on_server("invite", "fresh"), proj, srv_env).stdout).read_text())
        fresh_env = _host_env(env, cluster_dir, "fresh")
        fresh = _clone(proj, cluster_dir, "fresh", fresh_env)
        key = cluster_dir / "fresh" / "key"
        key.write_text(creds["ssh_key"])
        key.chmod(0o600)
        (Path(fresh_env["HOME"]) / ".ssh").mkdir(mode=0o700)
        (Path(fresh_env["HOME"]) / ".ssh" / "known_hosts").write_text(creds["ssh_host_key"] + "\n")
        dvc = [sys.executable, "-m", "dvc"]
        run_ok(dvc + ["remote", "add", "--local", "-d", "cluster", creds["dvc_remote"]], fresh, fresh_env)
        fresh_env["PYTHONPATH"] = str(fresh)
        stranger = cluster_dir / "fresh" / "stranger"  # a key the SSH server was never given
        run_ok(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], fresh, fresh_env)
        run_ok(dvc + ["remote", "modify", "--local", "cluster", "keyfile", str(stranger)], fresh, fresh_env)
        refused = subprocess.run(network.cmd("fresh", dvc + ["pull", "data/raw/conll2003.dvc"]), cwd=fresh,
                                 env=fresh_env, capture_output=True, text=True, timeout=300)
        print("SSH remote, unknown key:", (refused.stdout + refused.stderr).strip()[-300:])
        assert refused.returncode != 0 and not (fresh / "data" / "raw" / "conll2003" / "train.txt").exists()
        run_ok(dvc + ["remote", "modify", "--local", "cluster", "keyfile", str(key)], fresh, fresh_env)
        pulled = run_ok(network.cmd("fresh", dvc + ["repro", "--pull"]), fresh, fresh_env, timeout=600).stdout
        assert "Running stage" not in pulled and pulled.count("is cached") >= 8, pulled

        # No secret in a log, an MLflow parameter or tag, or a Prefect flow run's parameters.
        secrets = [config["password"], config["prefect_auth"], config["mlflow_admin_password"],
                   creds["mlflow_password"]]
        logs = [p for base in (cluster, *(cluster_dir / h / "state" for h in workers)) for p in base.rglob("*.log")]
        assert logs
        for path in logs:
            text = path.read_text(errors="replace")
            assert not [s for s in secrets if s in text], f"a secret in {path}"
        flow_runs = _probe(network, "server", HTTP_STATUS, f"{prefect}/flow_runs/filter", "{}",
                           config["prefect_auth"], "body")
        assert flow_runs.startswith("200 ") and '"parameters"' in flow_runs
        assert not [s for s in secrets if s in json.dumps(runs) or s in flow_runs]
    finally:
        for host in workers:
            subprocess.run(network.cmd(host, [*CLI, "leave"]), cwd=cluster_dir, env=_host_env(env, cluster_dir, host),
                           capture_output=True, timeout=120)
        stop = subprocess.run(on_server("stop"), cwd=proj, env=srv_env, capture_output=True, text=True, timeout=120)
    assert stop.returncode == 0, stop.stderr


def _log(root: Path, host: str) -> str:
    log = root / host / "state" / "logs" / f"{host}.log"
    return log.read_text(errors="replace") if log.exists() else ""
