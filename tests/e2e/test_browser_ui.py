"""A real browser test of the product: start the servers as `make ui` does, click Run ->
Quick run on a deployment in the Prefect UI (headless Chromium), wait for the flow run,
click Cancel on another run's page, then look at the Prefect flow-run page and the MLflow
pages. Screenshots land in test-artifacts/browser/ (GNN_TEST_ARTIFACTS overrides)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from flows.processes import free_port, group_members
from tasks.common.settings import settings
from tests.outputs import WorkspaceWatcher
from tests.support import (TINY_TAGS as TINY, commit_data, make_project, processes_using, project_params_raw, run_ok,
                           wait_until)
from tests.synthetic import write_citeulike_slice
from tests.e2e.ui_pages import (api, browser_page, mlflow_experiment, mlflow_run, prefect_cancel, prefect_flow_run,
                                prefect_quick_run, prefect_run_form)

pytestmark = pytest.mark.e2e


TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def wait_for_flow_run(prefect_api: str, flow_run_id: str, timeout: float = 600, every: float = 2.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api(f"{prefect_api}/flow_runs/{flow_run_id}")
        if run["state"]["type"] in TERMINAL:
            return run
        time.sleep(every)
    raise AssertionError(f"flow run {flow_run_id} did not finish within {timeout}s")


@pytest.fixture
def ui_project(tmp_path):
    proj, env = make_project(tmp_path, TINY)
    write_citeulike_slice(proj / "data" / "raw" / "citeulike-t")
    commit_data(proj, env, "data/raw/citeulike-t")
    env.update({"GNN_PREFECT_PORT": str(free_port()), "GNN_MLFLOW_PORT": str(free_port())})
    try:
        yield proj, env
    finally:
        run_ok([sys.executable, "-m", "flows.ui", "stop"], proj, env)
        for pid_file in (proj / ".ui").glob("*.pid"):
            raise AssertionError(f"{pid_file} left behind by `flows.ui stop`")


def group_commands(group: int) -> list[str]:
    """The command lines of the live processes in process group ``group``."""
    found = []
    for pid in group_members(group):
        try:
            found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # it ended meanwhile
            pass
    return found


def test_run_button_then_both_uis_show_the_result(ui_project):
    proj, env = ui_project
    prefect_ui, mlflow_ui = f"http://127.0.0.1:{env['GNN_PREFECT_PORT']}", f"http://127.0.0.1:{env['GNN_MLFLOW_PORT']}"
    prefect_api = f"{prefect_ui}/api"
    started = run_ok([sys.executable, "-m", "flows.ui", "start"], proj, env, timeout=600)
    assert "deployments: up" in started.stdout
    pids = {p.stem: json.loads(p.read_text())["pid"] for p in (proj / ".ui").glob("*.pid")}
    assert set(pids) == {"prefect-server", "mlflow-server", "deployments"}
    # MLflow's job runner is off (quiet.env): its 8 processes would cost 20 s of CPU a start.
    mlflow_group = group_commands(pids["mlflow-server"])
    assert mlflow_group and not [c for c in mlflow_group if "mlflow.server.jobs" in c], mlflow_group

    # A second start is idempotent.
    again = run_ok([sys.executable, "-m", "flows.ui", "start"], proj, env)
    assert again.stdout.count("already running") == 3

    deployment = api(f"{prefect_api}/deployments/name/tags/tags")
    shots = settings().test_artifacts / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:  # Run -> Quick run, clicked in the Prefect UI
        run_id = prefect_quick_run(page, prefect_ui, deployment["id"], shots)
    finished = wait_for_flow_run(prefect_api, run_id)
    run = finished
    log = (proj / ".ui" / "logs" / "deployments.log").read_text(errors="replace")[-4000:]
    assert finished["state"]["type"] == "COMPLETED", f"flow run ended {finished['state']['type']}:\n{log}"

    metrics = json.loads((proj / "metrics" / "tags.json").read_text())
    import mlflow

    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("tags")
    (parent,) = client.search_runs([experiment.experiment_id], "tags.kind = 'flow'")
    assert parent.data.params["tags.sage.epochs"] == "3" and parent.data.tags["overrides"] == "{}"

    # Run with one value changed, as the Run form sends it: a DVC experiment. The
    # workspace (params.yaml, dvc.lock, every output) is byte-identical while it runs and after.
    with WorkspaceWatcher(proj) as watcher:
        run2 = api(f"{prefect_api}/deployments/{deployment['id']}/create_flow_run",
                   {"parameters": {"sage": {**project_params_raw(TINY)["tags"]["sage"], "epochs": 2}}})
        finished = wait_for_flow_run(prefect_api, run2["id"], every=0.5)
    assert finished["state"]["type"] == "COMPLETED", (proj / ".ui" / "logs" / "deployments.log").read_text()[-4000:]
    assert watcher.changed == set() and watcher.watches
    (exp_run,) = client.search_runs([experiment.experiment_id], "tags.kind = 'flow' and tags.dvc_experiment != ''")
    assert exp_run.data.params["tags.sage.epochs"] == "2"
    assert json.loads(exp_run.data.tags["overrides"]) == {"tags.sage.epochs": 2}
    shown = run_ok([sys.executable, "-m", "dvc", "exp", "show", "--md"], proj, env).stdout
    assert exp_run.data.tags["dvc_experiment"] in shown

    # Cancel, clicked on the page of a running override run: the run ends Cancelled, its
    # stage stops, the workspace is untouched. The MLflow runs and the private clone are
    # checked after the next run, which tidies what a flow process killed outright leaves.
    long_sage = {**project_params_raw(TINY)["tags"]["sage"], "epochs": 500, "tolerance": 0.0, "patience": 500}
    with WorkspaceWatcher(proj) as watcher:
        run3 = api(f"{prefect_api}/deployments/{deployment['id']}/create_flow_run", {"parameters": {"sage": long_sage}})
        wait_until("the run to cancel training", lambda: "epoch 3/500" in (
            proj / ".ui" / "logs" / "deployments.log").read_text(errors="replace"), timeout=300, poll=1)
        with browser_page() as page:
            prefect_cancel(page, prefect_ui, run3["id"], shots)
        clicked = time.monotonic()
        cancelled = wait_for_flow_run(prefect_api, run3["id"], timeout=90, every=0.5)
    print(f"cancelled: {cancelled['state']['type']} {time.monotonic() - clicked:.1f} s after the click set it Cancelling")
    assert cancelled["state"]["type"] == "CANCELLED"
    assert watcher.changed == set() and watcher.watches
    wait_until("the cancelled run's stage and DVC processes to end", lambda: not [
        p for p in processes_using(proj) if "tasks." in p or "dvc" in p], timeout=30, poll=1)

    # A flow started from the command line while the UI runs uses its Prefect server
    # (no temporary one), so the run shows in the UI.
    cli = run_ok([sys.executable, "-m", "flows.tags"], proj, env, timeout=600)
    assert f"using the Prefect server at {prefect_api}" in cli.stdout
    runs = api(f"{prefect_api}/flow_runs/filter", {"sort": "START_TIME_DESC", "limit": 1})
    assert runs[0]["state"]["type"] == "COMPLETED" and runs[0]["deployment_id"] is None
    assert runs[0]["name"] in cli.stdout + cli.stderr
    (killed,) = client.search_runs([experiment.experiment_id], f"tags.prefect_flow_run_id = '{run3['id']}'")
    stages = {r.info.run_name: r.info.status for r in client.search_runs(
        [experiment.experiment_id], f"tags.mlflow.parentRunId = '{killed.info.run_id}'")}
    assert killed.info.status == "FAILED" and stages["train_sage"] == "FAILED", (killed.info.status, stages)
    assert "RUNNING" not in stages.values(), stages
    assert not list((proj / ".dvc" / "tmp").glob("gnn-exps/*")), "a private clone was left behind"

    with browser_page() as page:
        # The Run form shows every tags parameter with params.yaml's value and its description.
        seen = prefect_run_form(page, prefect_ui, deployment["id"], "How GraphSAGE combines", shots)
        for text in ("How GraphSAGE combines a node's sampled neighbours", "Share of the tagged articles held out",
                     "data/raw/citeulike-t", "tfidf-glove"):
            assert text in seen, text
        seen = prefect_flow_run(page, prefect_ui, run["id"], "tag-results", shots)
        assert run["name"] in seen and "Completed" in seen
        assert "macro_f1_thresholded" in seen and f"{metrics['concat_cs']['macro_f1_thresholded']:.4f}" in seen
        # The experiment opens in the model-training view, its runs named after what differs.
        seen = mlflow_experiment(page, mlflow_ui, experiment.experiment_id, "tags (params.yaml)", shots)
        assert "tags (params.yaml)" in seen and "tags sage.epochs=2" in seen
        seen = mlflow_run(page, mlflow_ui, experiment.experiment_id, parent.info.run_id,
                          "concat.macro_precision", shots)
        for name in ("concat.macro_precision", "text.macro_f1", "graphsage.macro_precision"):
            group, key = name.split(".")
            assert name in seen and repr(metrics[group][key])[:6] in seen
    for name in ("prefect_cancel", "prefect_run_form", "prefect_flow_run", "prefect_artifact", "mlflow_experiment",
                 "mlflow_run"):
        assert (shots / f"{name}.png").stat().st_size > 10_000
