"""End to end: the whole mission in one flow run, with nested MLflow runs and Prefect
artifacts (metric tables linking to MLflow)."""
import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT, TINY_NER as NER_TINY, TINY_TAGS as TAGS_TINY, make_project, run_ok
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
    run_ok([sys.executable, "-m", "flows.pipeline"], proj, env, timeout=1200)
    assert json.loads((proj / "metrics" / "ner.json").read_text())["epochs_run"] == 2

    import mlflow

    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
    by_parent: dict = {}
    for r in runs:
        by_parent.setdefault(r.data.tags.get("mlflow.parentRunId"), []).append(r)
    (top,) = by_parent[None]
    flows = {r.data.tags["flow"]: r for r in by_parent[top.info.run_id]}
    assert set(flows) == {"ner_flow", "tags_flow"}
    # Runs are named after what differs from params.yaml.
    assert {r.info.run_name for r in flows.values()} == {"ner (params.yaml)", "tags (params.yaml)"}
    assert {r.info.run_name for r in by_parent[flows["ner_flow"].info.run_id]} == {"prepare_ner", "train_ner"}
    assert len(by_parent[flows["tags_flow"].info.run_id]) == 6
    assert "ner.test.f1" in top.data.metrics and "tags.concat.macro_f1" in top.data.metrics
    assert flows["ner_flow"].data.tags["git_commit"]
    # Side by side: each flow started before the other ended (one after the other, the
    # later one would start after the earlier one's end).
    ner, tags = flows["ner_flow"].info, flows["tags_flow"].info
    assert max(ner.start_time, tags.start_time) < min(ner.end_time, tags.end_time)
    # Each run names the Prefect flow run that made it (the subflows have their own).
    prefect_ids = {r.data.tags["prefect_flow_run_id"] for r in (top, *flows.values())}
    assert len(prefect_ids) == 3

    keys = run_ok([sys.executable, "-c", READ_ARTIFACTS], proj, env).stdout
    for key in ("pipeline-results", "ner-results", "tag-results", "train-ner-progress"):
        assert key in keys


SIDE_BY_SIDE = """
import time
from prefect import flow
from flows.pipeline import side_by_side

events = []

@flow
def slow():
    time.sleep(3)
    events.append("slow done")
    return {"slow": 1}

@flow
def fails():
    time.sleep(0.5)
    events.append("fails")
    raise ValueError("planted failure")

@flow
def both(failing: bool):
    return side_by_side((slow, {}), (fails if failing else slow, {}))

print("RESULT", both(False))
try:
    both(True)
except ValueError as err:
    print("RESULT raised:", err)
print("RESULT", events)
"""


def test_subflows_run_at_once_and_a_failure_waits_for_the_other(tmp_path):
    """flows.pipeline.side_by_side with two small flows in a real Prefect run: both
    succeed -> their results in order; one fails -> it is raised only after the other
    flow has finished its work (the other's finished stages are kept)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(tmp_path / "prefect")}
    out = subprocess.run([sys.executable, "-c", SIDE_BY_SIDE], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = [line.removeprefix("RESULT ") for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines[0] == "[{'slow': 1}, {'slow': 1}]"
    assert lines[1] == "raised: planted failure"
    # Two 3 s flows at once append together; then the failing one went first, at 0.5 s,
    # while the slow one ran on, and was raised after it.
    assert lines[2] == "['slow done', 'slow done', 'fails', 'slow done']"
