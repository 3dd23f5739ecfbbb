"""End to end: ner_flow on a tiny slice, through DVC, with MLflow parent/child runs."""
import json
import sys

import pytest

from tests.support import TINY_NER as TINY, make_project, run_ok
from tests.synthetic import write_conll_slice

pytestmark = pytest.mark.e2e



@pytest.fixture
def project(tmp_path):
    """A fresh git + DVC project with this code and a tiny CoNLL slice."""
    proj, env = make_project(tmp_path, {**TINY, "ner.train.epochs": 2, "ner.train.seed": 7})
    write_conll_slice(proj / "data" / "raw" / "conll2003", sentences=40)
    return proj, env, tmp_path


def test_ner_flow_end_to_end(project, monkeypatch):
    proj, env, tmp = project
    params_before = (proj / "params.yaml").read_text()
    flow = run_ok([sys.executable, "-m", "flows.ner"], proj, env, timeout=900)
    assert "test strict span F1" in flow.stdout + flow.stderr

    metrics = json.loads((proj / "metrics" / "ner.json").read_text())
    for split in ("dev", "test"):
        assert {"precision", "recall", "f1"} <= set(metrics[split])
    assert set(metrics["test"]["per_type"]) <= {"PER", "LOC", "ORG", "MISC"}
    assert metrics["epochs_run"] == 2
    assert (proj / "artifacts" / "ner" / "model.keras").is_file()
    assert (proj / "params.yaml").read_text() == params_before

    # MLflow: one parent run for the flow, one child per stage holding params and F1.
    import mlflow

    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("ner")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("kind") == "flow"]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.data.params["ner.train.epochs"] == "2" and "test.f1" in parent.data.metrics
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert set(children) == {"prepare_ner", "train_ner"}
    train = children["train_ner"]
    assert train.data.params["ner.train.seed"] == "7"
    assert train.data.metrics["test.f1"] == pytest.approx(metrics["test"]["f1"])
    assert len(client.get_metric_history(train.info.run_id, "dev_f1")) == 2
    assert "data.train.sentences" in children["prepare_ner"].data.metrics

    # The flow registered the tagger; predict gives the same answer from DVC and registry.
    # The tiny model may find no entity; what must hold is that the command line prints
    # exactly what the flow's artifact predicts, and that the registry serves the same model.
    from tasks.ner.inference import format_entities, load_tagger, tag_entities

    sentence = "John Smith works for Reuters in Paris ."
    expected = format_entities(tag_entities(load_tagger(proj / "artifacts" / "ner"), sentence))
    ask = [sys.executable, "-m", "tasks.predict", "ner", sentence]
    answer = run_ok(ask, proj, env)
    from_dvc = answer.stdout
    assert from_dvc.strip() == expected
    # No backend noise around the answer (TensorFlow's absl/oneDNN lines, cuInit on a CPU).
    assert not [line for line in answer.stderr.splitlines() if line.startswith(("I0000", "E0000", "W0000"))
                or "cuInit" in line or "absl::InitializeLog" in line], answer.stderr[-2000:]
    assert run_ok(ask + ["--source", "registry"], proj, env).stdout == from_dvc
    (version,) = client.search_model_versions("name = 'gnn-ner'")
    assert version.tags["source_run_id"] == parent.info.run_id and version.tags["content_hash"]
    # What a second flow run with the same params does at its end: nothing new to register.
    from tasks.serving.registry import register_ner

    monkeypatch.chdir(proj)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    monkeypatch.setattr("mlflow.tracking._tracking_service.utils._tracking_uri", None)  # restored afterwards
    assert register_ner("another-run") == (1, False)
    assert len(client.search_model_versions("name = 'gnn-ner'")) == 1

    # The flow ran the stages through DVC in the workspace: `dvc repro` has nothing to do.
    # (The tag stages' data is not in this tiny project, so the NER pipeline is the target.)
    again = run_ok([sys.executable, "-m", "dvc", "repro", "train_ner"], proj, env)
    assert "Running stage" not in again.stdout
    status = run_ok([sys.executable, "-m", "dvc", "status", "train_ner"], proj, env)
    assert "up to date" in status.stdout
