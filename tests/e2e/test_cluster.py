"""End to end: `make cluster` on free ports with a tiny project. PostgreSQL, Prefect and
MLflow servers, a process work pool with two workers in their own workspaces and a shared
DVC remote. Two tags runs at once land on different workers; a worker killed in the
middle of a third run leaves it Crashed (its MLflow runs KILLED, the DVC remote
untouched) and a retry completes on the other worker, though PostgreSQL restarts during
it; a server or the database down at submit time is named; stop leaves no process behind."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows import processes
from tests.outputs import half_written, remote_files
from tests.support import TINY_TAGS, commit_data, log_tails, make_project, processes_using, run_ok, wait_until
from tests.synthetic import write_citeulike_slice

pytestmark = pytest.mark.e2e
EPOCHS = 150  # the third run: long enough to be killed in the middle
SUBMITTED = re.compile(r"submitted flow run \S+ \(([0-9a-f-]{36})\)")


def _mlflow_flow_runs(config: dict) -> dict[str, dict]:
    """Flow-level MLflow runs read straight from PostgreSQL: {run id: {status, tags}}."""
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=config["pg_port"], user="gnn", password=config["password"],
                            dbname="mlflow", connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT r.run_uuid, r.status, t.key, t.value FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid")
            runs: dict[str, dict] = {}
            for run_id, status, key, value in cur.fetchall():
                runs.setdefault(run_id, {"status": status, "tags": {}})["tags"][key] = value
    finally:
        conn.close()
    return {k: v for k, v in runs.items() if v["tags"].get("kind") == "flow"}


def test_cluster_runs_in_parallel_survives_a_killed_worker_and_stops_clean(tmp_path, cluster_dir):
    proj, env = make_project(tmp_path, {**TINY_TAGS, "tags.sage.epochs": 2})
    write_citeulike_slice(proj / "data" / "raw" / "citeulike-t")
    commit_data(proj, env, "data/raw/citeulike-t")
    env.update({"GNN_CLUSTER_DIR": str(cluster_dir), "GNN_CLUSTER_WORKERS": "2",
                **{f"GNN_CLUSTER_{k}_PORT": str(processes.free_port()) for k in ("PG", "PREFECT", "MLFLOW")}})
    cli = [sys.executable, "-m", "flows.cluster"]
    try:
        start = run_ok(cli + ["start"], proj, env, timeout=400).stdout
        assert "cluster ready in" in start, start
        config = json.loads((cluster_dir / "cluster.json").read_text())
        assert run_ok(cli + ["status"], proj, env).returncode == 0

        # Two runs submitted at once run side by side, one per worker.
        both = [subprocess.Popen(cli + ["submit", "tags", "--wait"], cwd=proj, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
        outs = [p.communicate(timeout=900)[0] for p in both]
        assert [p.returncode for p in both] == [0, 0], "\n".join(outs) + log_tails(
            *(cluster_dir / "logs" / f"{w}.log" for w in ("worker-1", "worker-2", "mlflow-server", "prefect-server")))
        ids = {SUBMITTED.search(out).group(1) for out in outs}
        runs = _mlflow_flow_runs(config)
        done = {r["tags"]["prefect_flow_run_id"]: r for r in runs.values() if r["status"] == "FINISHED"}
        assert set(done) == ids
        assert {done[i]["tags"]["worker"] for i in ids} == {"worker-1", "worker-2"}
        remote = cluster_dir / "dvc-remote"
        before = remote_files(remote)
        assert any(name.startswith("runs/") for name in before), "no run cache was pushed"
        assert not half_written(before)

        # A later run on a fresh workspace pulls every stage from the remote's run cache.
        fresh = tmp_path / "fresh"
        run_ok(["git", "clone", "-q", str(proj), str(fresh)], tmp_path, env)
        dvc = [sys.executable, "-m", "dvc"]
        run_ok(dvc + ["remote", "add", "--local", "-d", "cluster", str(remote)], fresh, env)
        pulled = run_ok(dvc + ["repro", "--pull", "evaluate_tags"], fresh, {**env, "PYTHONPATH": str(fresh)})
        assert "Running stage" not in pulled.stdout and pulled.stdout.count("is cached") == 6, pulled.stdout

        # A third run with more epochs (a new commit, deployed again) loses its worker mid-run.
        import yaml

        params = yaml.safe_load((proj / "params.yaml").read_text())
        params["tags"]["sage"].update(epochs=EPOCHS, tolerance=0.0)
        (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]
        run_ok(git + ["commit", "-qam", "more epochs"], proj, env)
        assert "at " in run_ok(cli + ["start"], proj, env, timeout=300).stdout
        third = SUBMITTED.search(run_ok(cli + ["submit", "tags"], proj, env).stdout).group(1)
        victim = wait_until("the third run's train_sage", lambda: next(
            (r["tags"]["worker"] for r in _mlflow_flow_runs(config).values()
             if r["tags"].get("prefect_flow_run_id") == third and _training(cluster_dir, r["tags"]["worker"])), None),
            timeout=300)
        pid = processes.running_pid(_service(cluster_dir, victim))
        killed_at = time.monotonic()
        processes.kill_tree(pid)
        state = wait_until("Crashed", lambda: _state(cli, proj, env, third) if _state(cli, proj, env, third) in {
            "CRASHED", "FAILED", "COMPLETED"} else None, timeout=240, poll=3)
        assert state == "CRASHED"
        print(f"crash detected {time.monotonic() - killed_at:.0f} s after the kill")
        killed = wait_until("the janitor", lambda: [r for r in _mlflow_flow_runs(config).values()
                                                 if r["tags"].get("prefect_flow_run_id") == third
                                                 and r["status"] == "KILLED"], timeout=60)
        assert "cluster janitor" in killed[0]["tags"]["ended_by"]
        assert remote_files(remote) == before, "the killed run pushed something to the DVC remote"

        # Retried, it completes on the surviving worker, though PostgreSQL restarts under it.
        run_ok(cli + ["retry", third], proj, env)
        survivor = {"worker-1", "worker-2"} - {victim}
        wait_until("the retry's train_sage", lambda: _training(cluster_dir, *survivor), timeout=300, poll=1)
        assert "postgres: restarted" in run_ok(cli + ["restart", "postgres"], proj, env).stdout
        wait_until("the retry", lambda: _state(cli, proj, env, third) in {"COMPLETED", "FAILED", "CRASHED"},
              timeout=600, poll=3)
        # It failed once in a full suite run (FAILED, 2026-12-06) and passed alone; the logs
        # say why next time.
        assert _state(cli, proj, env, third) == "COMPLETED", log_tails(
            *(cluster_dir / "logs" / f"{name}.log" for name in (*sorted(survivor), "postgres", "mlflow-server",
                                                                 "prefect-server")))
        finished = [r for r in _mlflow_flow_runs(config).values()
                    if r["tags"].get("prefect_flow_run_id") == third and r["status"] == "FINISHED"]
        assert [r["tags"]["worker"] for r in finished] == list(survivor)
        assert not half_written(remote_files(remote))

        # A server or the database down at submit time: a message naming it, within seconds.
        from flows.cluster import services
        from flows.cluster.config import ClusterConfig

        parts = {s.name: s for s in services.all_services(ClusterConfig(**config))}
        for name, message in (("mlflow-server", "the MLflow server at"), ("prefect-server", "the Prefect server at"),
                              ("postgres", "PostgreSQL at")):
            assert processes.stop_service(parts[name])
            began = time.monotonic()
            refused = subprocess.run(cli + ["submit", "tags"], cwd=proj, env=env, capture_output=True, text=True)
            assert refused.returncode == 1 and message in refused.stderr, refused.stderr
            assert time.monotonic() - began < 30
    finally:
        stop = subprocess.run(cli + ["stop"], cwd=proj, env=env, capture_output=True, text=True, timeout=120)
    assert stop.returncode == 0, stop.stderr
    time.sleep(1)
    assert processes_using(cluster_dir) == []


def _service(cluster_dir: Path, name: str) -> processes.Service:
    return processes.Service(name, [], None, cluster_dir, lambda: True)


def _training(cluster_dir: Path, worker: str) -> bool:
    log = cluster_dir / "logs" / f"{worker}.log"
    return log.exists() and f"epoch 3/{EPOCHS}" in log.read_text(errors="replace")


def _state(cli, proj, env, flow_run_id) -> str:
    """The flow run's state type, from the Prefect server's REST API."""
    import urllib.request

    config = json.loads((Path(env["GNN_CLUSTER_DIR"]) / "cluster.json").read_text())
    url = f"http://127.0.0.1:{config['prefect_port']}/api/flow_runs/{flow_run_id}"
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())["state_type"]
