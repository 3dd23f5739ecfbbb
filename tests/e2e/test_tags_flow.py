"""End to end: tags_flow on a tiny citeulike-shaped graph, through DVC and MLflow."""
import json
import sys
from pathlib import Path

import pytest

from tests.outputs import WorkspaceWatcher
from tests.support import TINY_TAGS, commit_data, make_project, run_ok
from tests.synthetic import write_citeulike_slice

pytestmark = pytest.mark.e2e



def test_tags_flow_end_to_end(tmp_path):
    proj, env = make_project(tmp_path, {**TINY_TAGS, "tags.sage.epochs": 2})
    write_citeulike_slice(proj / "data" / "raw" / "citeulike-t")
    commit_data(proj, env, "data/raw/citeulike-t")
    flow = run_ok([sys.executable, "-m", "flows.tags"], proj, env, timeout=900)
    assert "thresholded macro F1" in flow.stdout + flow.stderr

    metrics = json.loads((proj / "metrics" / "tags.json").read_text())
    for name in ("text", "label_reuse", "graphsage", "concat", "graphsage_random"):  # LabelPowerset: both rules
        assert {"accuracy", "macro_precision", "macro_f1", "lrap", "macro_f1_thresholded"} <= set(metrics[name])
    for name in ("label_propagation", "text_cs", "propagation_cs", "label_reuse_cs", "graphsage_cs", "concat_cs"):
        assert {"lrap", "precision_at_1", "macro_f1_thresholded"} <= set(metrics[name])
        assert "macro_precision" not in metrics[name] and metrics[name]["per_seed"]["1"]["chosen"]
    assert metrics["setup"]["target_tags"] == 3  # "rare" is on 2 articles only
    data = json.loads((proj / "metrics" / "tags_data.json").read_text())
    assert data["articles"] == 120 and data["lists"] == 30
    sage = json.loads((proj / "metrics" / "tags_sage.json").read_text())
    assert sage["epochs_run"] == 2 and sage["embedded_nodes"] == 120
    assert (proj / "artifacts" / "tags" / "untagged_predictions.csv").is_file()

    import mlflow

    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("tags").experiment_id])
    parent = next(r for r in runs if r.data.tags.get("kind") == "flow")
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert set(children) == {"import_articles", "embed_text", "project_graph", "sample_graph", "train_sage",
                             "evaluate_tags"}
    assert children["train_sage"].data.params["tags.sage.epochs"] == "2"
    assert len(client.get_metric_history(children["train_sage"].info.run_id, "loss")) == 2
    assert children["evaluate_tags"].data.metrics["concat.macro_f1"] == pytest.approx(metrics["concat"]["macro_f1"])
    assert "graphsage.macro_precision" in parent.data.metrics

    # The flow registered the model; predict gives the same answer from DVC and registry.
    ask = [sys.executable, "-m", "tasks.predict", "tags", "--text", "protein gene cell", "--lists", "user0", "user2"]
    from_dvc = run_ok(ask, proj, env).stdout
    assert from_dvc.startswith("tags: ") and "top tag probabilities" in from_dvc and "neighbour(s)" in from_dvc
    assert run_ok(ask + ["--source", "registry"], proj, env).stdout == from_dvc
    (version,) = client.search_model_versions("name = 'gnn-tags'")
    assert version.tags["source_run_id"] == parent.info.run_id
    # Models from code: the version stores the wrapper's source, no pickled class, so it
    # still loads after the wrapper module is moved away in the project.
    model_id = version.model_id or version.source.removeprefix("models:/").split("/")[0]
    location = client.get_logged_model(model_id).artifact_location.removeprefix("file://")
    stored = {p.name for p in Path(location).rglob("*")}
    assert "tags_pyfunc.py" in stored and "python_model.pkl" not in stored
    (proj / "tasks" / "serving" / "tags_pyfunc.py").rename(proj / "tasks" / "serving" / "moved_away.py")
    assert run_ok(ask + ["--source", "registry"], proj, env).stdout == from_dvc
    (proj / "tasks" / "serving" / "moved_away.py").rename(proj / "tasks" / "serving" / "tags_pyfunc.py")
    # Each stage run holds PNG images of its own DVC plots (drawn from dvc.yaml).
    pngs = {f.path for f in client.list_artifacts(children["train_sage"].info.run_id, "plots")}
    assert pngs == {"plots/sage_loss.png"}
    info = json.loads((proj / "artifacts" / "tags" / "sage_info.json").read_text())
    assert info["sage"]["sample_sizes"] == [4, 3] and info["projection"]["max_list_size"] == 200
    # A second flow run: every stage is up to date (one `dvc status`, no stage process),
    # and the registry gets no identical version.
    second = run_ok([sys.executable, "-m", "flows.tags"], proj, env, timeout=900)
    log = second.stdout + second.stderr
    assert log.count("didn't change, skipping (dvc status: up to date)") == 6
    assert "gnn-tags version 1 (unchanged, not registered again)" in log
    assert len(client.search_model_versions("name = 'gnn-tags'")) == 1
    assert len(client.search_runs([parent.info.experiment_id], "tags.kind = 'flow'")) == 2

    status = run_ok([sys.executable, "-m", "dvc", "status", "evaluate_tags"], proj, env)
    assert "up to date" in status.stdout

    # A run with overrides is a DVC experiment: the workspace is not written, the
    # experiment holds its metrics, MLflow names it, and the registry is not touched.
    # DVC's own `exp run --temp` writes the overrides into the workspace's params.yaml
    # for a moment (it stashes through the workspace); the watcher (inotify: every write,
    # however brief) would catch that.
    with WorkspaceWatcher(proj) as watcher:
        exp = run_ok([sys.executable, "-m", "flows.tags", "--epochs", "3", "-S", "tags.sage.sample_sizes=[3, 2]"],
                     proj, env, timeout=900)
    assert watcher.changed == set() and watcher.watches
    (flow_exp,) = client.search_runs([parent.info.experiment_id], "tags.kind = 'flow' and tags.dvc_experiment != ''")
    name = flow_exp.data.tags["dvc_experiment"]
    assert f"dvc exp apply {name}" in exp.stdout + exp.stderr
    assert json.loads(flow_exp.data.tags["overrides"]) == {"tags.sage.epochs": 3, "tags.sage.sample_sizes": [3, 2]}
    stage_runs = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{flow_exp.info.run_id}'")
    assert {r.data.tags["dvc_experiment"] for r in stage_runs} == {name}
    assert {r.data.params["tags.sage.epochs"] for r in stage_runs if r.info.run_name == "train_sage"} == {"3"}
    shown = json.loads(run_ok([sys.executable, "-m", "dvc", "exp", "show", "--json"], proj, env).stdout)
    exps = {e["name"]: e for baseline in shown for e in (baseline.get("experiments") or [])
            for e in [e["revs"][0]] if e.get("name")}
    assert name in exps
    exp_metrics = exps[name]["data"]["metrics"]["metrics/tags.json"]["data"]
    assert exp_metrics["concat"]["macro_f1"] == pytest.approx(flow_exp.data.metrics["concat.macro_f1"])
    assert len(client.search_model_versions("name = 'gnn-tags'")) == 1

