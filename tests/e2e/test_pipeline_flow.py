"""End to end: the whole mission in one flow run, with nested MLflow runs and Prefect
artifacts (metric tables linking to MLflow)."""
import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT, TINY_NER as NER_TINY, TINY_TAGS as TAGS_TINY, commit_data, make_project, run_ok
from tests.synthetic import write_citeulike_slice, write_conll_slice

pytestmark = pytest.mark.e2e

READ_ARTIFACTS = """
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    print(sorted({a.key for a in client.read_artifacts() if a.key}))
"""


def test_pipeline_flow_nests_both_flows(tmp_path):
    proj, env = make_project(tmp_path, {**NER_TINY, **TAGS_TINY, "ner.train.epochs": 2, "tags.sage.epochs": 2})
    write_conll_slice(proj / "data" / "raw" / "conll2003", sentences=40)
    write_citeulike_slice(proj / "data" / "raw" / "citeulike-t")
    commit_data(proj, env, "data/raw/conll2003", "data/raw/citeulike-t")  # for the experiments below
    run_ok([sys.executable, "-m", "flows.pipeline"], proj, env, timeout=1200)
    ner_metrics = (proj / "metrics" / "ner.json").read_text()
    assert json.loads(ner_metrics)["epochs_run"] == 2

    import mlflow

    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
    by_parent: dict = {}
    for r in runs:
        by_parent.setdefault(r.data.tags.get("mlflow.parentRunId"), []).append(r)
    (top,) = by_parent[None]
    flows = {r.data.tags["flow"]: r for r in by_parent[top.info.run_id]}
    assert set(flows) == {"ner_flow", "tags_flow"}
    assert_overlap(*flows.values())
    # Runs are named after what differs from params.yaml.
    assert {r.info.run_name for r in flows.values()} == {"ner (params.yaml)", "tags (params.yaml)"}
    assert {r.info.run_name for r in by_parent[flows["ner_flow"].info.run_id]} == {"prepare_ner", "train_ner"}
    assert len(by_parent[flows["tags_flow"].info.run_id]) == 6
    assert "ner.test.f1" in top.data.metrics and "tags.concat.macro_f1" in top.data.metrics
    assert flows["ner_flow"].data.tags["git_commit"]
    # Each run names the Prefect flow run that made it (the subflows have their own).
    prefect_ids = {r.data.tags["prefect_flow_run_id"] for r in (top, *flows.values())}
    assert len(prefect_ids) == 3

    keys = run_ok([sys.executable, "-c", READ_ARTIFACTS], proj, env).stdout
    for key in ("pipeline-results", "ner-results", "tag-results", "train-ner-progress"):
        assert key in keys

    # With overrides each subflow is a DVC experiment in its own private clone, the two
    # at once; both land in the workspace repository, whose outputs stay as they were.
    run_ok([sys.executable, "-m", "flows.pipeline", "-S", "ner.train.epochs=1", "-S", "tags.sage.epochs=1"],
           proj, env, timeout=1200)
    assert (proj / "metrics" / "ner.json").read_text() == ner_metrics
    pipeline_id = client.get_experiment_by_name("pipeline").experiment_id
    experiments = {r.data.tags["flow"]: r for r in client.search_runs(
        [pipeline_id], "tags.kind = 'flow' and tags.dvc_experiment != ''")}
    assert set(experiments) == {"ner_flow", "tags_flow"}
    assert_overlap(*experiments.values())
    refs = {r.rsplit("/", 1)[-1]: r for r in run_ok(["git", "for-each-ref", "--format=%(refname)", "refs/exps"],
                                                     proj, env).stdout.split()}
    ner_ref = refs[experiments["ner_flow"].data.tags["dvc_experiment"]]
    shown = run_ok(["git", "show", f"{ner_ref}:metrics/ner.json"], proj, env).stdout
    assert json.loads(shown)["epochs_run"] == 1
    assert experiments["tags_flow"].data.tags["dvc_experiment"] in refs


def assert_overlap(a, b) -> None:
    """Two MLflow runs ran side by side: each started before the other ended (one after
    the other, the later would start after the earlier's end)."""
    assert max(a.info.start_time, b.info.start_time) < min(a.info.end_time, b.info.end_time)


SIDE_BY_SIDE = """
import threading
import time
from prefect import flow
from flows.pipeline import side_by_side

started, events = threading.Event(), []

@flow
def waits():
    # Sees the other flow start only if the two run at once (one after the other, it
    # waits 60 s in vain); then works on for 5 s after the other has ended or failed.
    seen = started.wait(60)
    time.sleep(5)
    events.append("waits done")
    return {"saw the other start": seen}

@flow
def signals(fail: bool):
    started.set()
    if fail:
        raise ValueError("planted failure")
    return {"signals": 1}

@flow
def both(fail: bool):
    started.clear()
    return side_by_side((waits, {}), (signals, {"fail": fail}))

print("RESULT", both(False))
try:
    both(True)
except ValueError as err:
    print("RESULT raised:", err, "| the other had finished:", events == ["waits done"] * 2)
"""


def test_subflows_run_at_once_and_a_failure_waits_for_the_other(tmp_path):
    """flows.pipeline.side_by_side with two small flows in a real Prefect run: they run
    at once and return their results in order; when one fails, the failure is raised
    only after the other has finished its work (so its finished stages are kept).
    Synchronised by an event, not by timing, so a loaded machine cannot flip it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(tmp_path / "prefect")}
    out = subprocess.run([sys.executable, "-c", SIDE_BY_SIDE], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=400)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = [line.removeprefix("RESULT ") for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines == ["[{'saw the other start': True}, {'signals': 1}]",
                     "raised: planted failure | the other had finished: True"]
