"""flows/cluster pieces without starting the cluster: configuration checks, the pull
steps as Prefect resolves them, the janitor's choice of runs to end, and the fast,
named failure when nothing answers at submit time."""
from __future__ import annotations

import time

import pytest

from flows.cluster import config as cfg
from flows.cluster import deploy, janitor
from flows.cluster.__main__ import check_reachable
from flows.processes import free_port


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("GNN_CLUSTER_DIR", str(tmp_path / "cluster"))
    return tmp_path / "cluster"


@pytest.mark.parametrize("key, value, message", [
    ("GNN_CLUSTER_WORKERS", "two", "GNN_CLUSTER_WORKERS='two': input should be a valid integer"),
    ("GNN_CLUSTER_WORKERS", "-1", "GNN_CLUSTER_WORKERS='-1': input should be greater than or equal to 0"),
    ("GNN_CLUSTER_BIND", "gpu-box.example", "GNN_CLUSTER_BIND='gpu-box.example': value is not a valid ipv4 or ipv6"),
    ("GNN_CLUSTER_BIND", "0.0.0.0", "GNN_CLUSTER_BIND=0.0.0.0: give the one address the worker hosts reach"),
    ("GNN_CLUSTER_HEARTBEAT_S", "10", "GNN_CLUSTER_HEARTBEAT_S='10': input should be greater than or equal to 30"),
])
def test_bad_settings_are_named_before_any_work(state, monkeypatch, key, value, message):
    monkeypatch.setenv(key, value)
    with pytest.raises(cfg.ClusterError, match=message):
        cfg.new_config()
    assert not state.exists()


def test_config_is_kept_private_and_reused(state, monkeypatch):
    monkeypatch.setenv("GNN_CLUSTER_WORKERS", "3")
    first = cfg.new_config()
    cfg.save(first)
    assert (state / "cluster.json").stat().st_mode & 0o077 == 0  # it holds the database password
    monkeypatch.setenv("GNN_CLUSTER_WORKERS", "5")  # a later start keeps ports, password, workers
    assert cfg.new_config() == first == cfg.load()
    assert first.worker_names == ["worker-1", "worker-2", "worker-3"]
    assert first.database_url("prefect", "postgresql+asyncpg").startswith("postgresql+asyncpg://gnn:")
    assert "127.0.0.1" in first.prefect_api and "127.0.0.1" in first.mlflow_uri


def test_no_cluster_is_a_clear_error(state):
    with pytest.raises(cfg.ClusterError, match=r"no cluster here .*: start one with `make cluster`"):
        cfg.load()


def test_pull_steps_enter_the_workspace_of_the_worker_that_runs_them(monkeypatch):
    from prefect.utilities.templating import apply_values

    steps = deploy.pull_steps("abc123")
    monkeypatch.setenv("GNN_WORKSPACE", "/srv/worker-2/ws")
    import os

    resolved = apply_values(steps, dict(os.environ))  # what Prefect does in the flow-run process
    assert resolved[0]["prefect.deployments.steps.set_working_directory"]["directory"] == "/srv/worker-2/ws"
    script = resolved[1]["prefect.deployments.steps.run_shell_script"]["script"].splitlines()
    assert script == ["git fetch -q origin", "git checkout -q --force --detach abc123",
                      "python -m flows.cluster.workspace sync"]


def test_janitor_ends_the_runs_of_a_dead_flow_run_and_not_of_its_retry(tmp_path, monkeypatch):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.create_experiment("tags")
    dead, alive = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
    parent = client.create_run(exp, tags={"prefect_flow_run_id": dead, "kind": "flow"}).info
    child = client.create_run(exp, tags={"mlflow.parentRunId": parent.run_id}).info
    grandchild = client.create_run(exp, tags={"mlflow.parentRunId": child.run_id}).info
    other = client.create_run(exp, tags={"prefect_flow_run_id": alive}).info
    crashed_at = time.time() * 1000 + 1
    time.sleep(0.01)
    retry = client.create_run(exp, tags={"prefect_flow_run_id": dead}).info  # same flow run, retried
    monkeypatch.setattr(janitor, "dead_flow_runs", lambda: {dead: ("Crashed", crashed_at)})

    ended = janitor.sweep(client)

    assert set(ended) == {parent.run_id, child.run_id, grandchild.run_id}
    for run_id in ended:
        run = client.get_run(run_id)
        assert run.info.status == "KILLED" and "flow run is Crashed" in run.data.tags["ended_by"]
    assert client.get_run(other.run_id).info.status == "RUNNING"
    assert client.get_run(retry.run_id).info.status == "RUNNING"
    assert janitor.sweep(client) == []  # nothing left to end


def test_submit_with_nothing_running_names_the_database_within_seconds(state):
    config = cfg.ClusterConfig(project=".", state=str(state), pg_port=free_port(), prefect_port=free_port(),
                               mlflow_port=free_port(), workers=2, pool="gnn", password="x", heartbeat_s=30)
    began = time.monotonic()
    with pytest.raises(cfg.ClusterError, match=rf"PostgreSQL at 127.0.0.1:{config.pg_port} is not answering"):
        check_reachable(config)
    assert time.monotonic() - began < 15
