"""End to end: the whole mission in one flow run, with nested MLflow runs and Prefect
artifacts (metric tables linking to MLflow)."""
import json
import sys

import pytest

from tests.support import TINY_NER as NER_TINY, TINY_TAGS as TAGS_TINY, make_project, run_ok
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
    # Each run names the Prefect flow run that made it (the subflows have their own).
    prefect_ids = {r.data.tags["prefect_flow_run_id"] for r in (top, *flows.values())}
    assert len(prefect_ids) == 3

    keys = run_ok([sys.executable, "-c", READ_ARTIFACTS], proj, env).stdout
    for key in ("pipeline-results", "ner-results", "tag-results", "train-ner-progress"):
        assert key in keys
