"""The stage runner's progress mirroring and the reproduce command of a flow run."""
from flows import reporting, runner
from tasks.common.progress import ProgressEvent


def test_progress_events_become_progress_artifacts(monkeypatch, capsys):
    """The stage's side (EpochReporter, the one callback both trainings use) prints events;
    the runner's side turns exactly those into one artifact per stage; human lines, and
    lines that merely look like events, are ignored."""
    import keras
    import numpy as np
    import prefect.artifacts as artifacts

    from tasks.common.epochs import EpochReporter, EpochResult

    calls = []
    monkeypatch.setattr(artifacts, "create_progress_artifact",
                        lambda value, key, description: calls.append(("create", value, key, description)) or "id-1")
    monkeypatch.setattr(artifacts, "update_progress_artifact",
                        lambda aid, value, description: calls.append(("update", value, aid, description)))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    score = lambda epoch, logs, seconds: EpochResult(f"epoch {epoch}/4: loss {logs['loss']:.4f}",  # noqa: E731
                                                     {"loss": logs["loss"]}, stop="enough" if epoch == 3 else None)
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=4, verbose=0,
              callbacks=[EpochReporter("train_ner", 4, score)])
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if not line.startswith("@progress ")] == [
        *(line for line in lines if line.startswith("epoch ")), "enough"]
    artifacts_ = runner.ProgressArtifacts()
    for line in lines + ["epoch 9/9: loss 0.1", "@progress {not json", '@progress {"stage": "x"}']:
        event = ProgressEvent.parse(line)
        if event is not None:
            artifacts_.update(event)
    assert [c[:3] for c in calls] == [("create", 25.0, "train-ner-progress"), ("update", 50.0, "id-1"),
                                      ("update", 75.0, "id-1")]  # stopped after epoch 3
    assert calls[-1][3].startswith("train_ner: epoch 3/4 (loss ")


def test_progress_event_round_trip_and_one_artifact_per_stage(monkeypatch):
    import prefect.artifacts as artifacts

    keys = []
    monkeypatch.setattr(artifacts, "create_progress_artifact", lambda value, key, description: keys.append(key) or key)
    monkeypatch.setattr(artifacts, "update_progress_artifact", lambda aid, value, description: None)
    event = ProgressEvent("train_sage", 3, 20, "seed 43", {"loss": 1.07})
    assert ProgressEvent.parse(event.line()) == event and event.fraction == 0.15
    assert event.describe() == "train_sage: seed 43 epoch 3/20 (loss 1.0700)"
    tracker = runner.ProgressArtifacts()
    for e in (event, ProgressEvent("train_ner", 1, 2), ProgressEvent("train_sage", 4, 20, "seed 43")):
        tracker.update(e)
    assert keys == ["train-sage-progress", "train-ner-progress"]


def test_reproduce_command_names_commit_overrides_and_target():
    cmd = reporting.reproduce_command({"tags.sage.sample_sizes": [4, 3], "ner.model.preset": "seed_readme"},
                                      "train_ner", "abc123")
    assert cmd == ("git checkout abc123 && dvc exp run -S 'ner.model.preset=seed_readme' "
                   "-S 'tags.sage.sample_sizes=[4,3]' train_ner")
    assert reporting.reproduce_command({}, "evaluate_tags", "unknown") == "dvc exp run evaluate_tags"


def test_a_dirty_tree_is_not_claimed_reproducible_from_its_commit():
    cmd = reporting.reproduce_command({"ner.train.epochs": 2}, "train_ner", "abc123-dirty")
    assert "git checkout" not in cmd and cmd.startswith("not reproducible from a commit")
    assert "uncommitted changes on top of abc123" in cmd and cmd.endswith("dvc exp run -S 'ner.train.epochs=2' train_ner")


def test_only_changed_inputs_make_a_tree_dirty():
    porcelain = " M dvc.lock\n M metrics/ner.json\n M plots/ner/history.csv\n"
    assert reporting.changed_inputs(porcelain) == []
    assert reporting.changed_inputs(porcelain + " M params.yaml\nR  tasks/a.py -> tasks/b.py\n") == [
        "params.yaml", "tasks/b.py"]


def test_experiment_sets_keep_value_types():
    from flows import experiments

    assert experiments.set_options({"tags.data.dir": "123", "tags.sage.sample_sizes": [4, 3],
                                    "ner.model.dropout": None}) == [
        "-S", "ner.model.dropout=null", "-S", 'tags.data.dir="123"', "-S", "tags.sage.sample_sizes=[4, 3]"]


def test_runs_are_named_after_what_differs():
    assert reporting.run_label("tags", {}) == "tags (params.yaml)"
    label = reporting.run_label("tags", {"tags.sage.epochs": 2, "tags.evaluate.seeds": [42], "tags.text.encoder": "minilm"})
    assert label == "tags evaluate.seeds=[42] sage.epochs=2 text.encoder=minilm"
    long = reporting.run_label("tags", {f"tags.k{i}": "x" * 20 for i in range(10)})
    assert len(long) == 120 and long.endswith("…")


def test_headline_is_the_best_validation_feature_set():
    metrics = {"setup": {"seeds": [1], "validation": 1215},  # the split sizes are no feature set
               "text": {"macro_f1_thresholded": 0.2, "lrap": 0.4, "validation": {"lrap": 0.41}},
               "concat_cs": {"macro_f1_thresholded": 0.25, "lrap": 0.5, "validation": {"lrap": 0.52}},
               "graphsage": {"macro_f1_thresholded": 0.3, "lrap": 0.6, "validation": {"lrap": 0.50}}}  # best on test, not on validation
    assert reporting.headline("tags", metrics) == ({"headline.macro_f1_thresholded": 0.25, "headline.lrap": 0.5},
                                                   {"headline_method": "concat_cs"})
    ner = {"dev": {"f1": 0.9}, "test": {"f1": 0.8}}
    assert reporting.headline("ner", ner) == ({"headline.test_f1": 0.8, "headline.dev_f1": 0.9}, {})


def test_only_clones_of_dead_flow_processes_are_removed(tmp_path, monkeypatch):
    """A private clone outlives a SIGKILLed flow process; the next flow run removes it, and
    never the clone of a live process, nor one whose owner is not written yet."""
    import json
    import os
    import subprocess
    import sys

    from flows import experiments
    from flows.processes import start_time

    monkeypatch.setattr(experiments, "CLONES", tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    owners = {"killed": {"pid": dead.pid, "start_time": start_time(dead.pid)},
              "live": {"pid": os.getpid(), "start_time": start_time(os.getpid())},
              "reused-pid": {"pid": os.getpid(), "start_time": "1"}}  # this pid, but another process's start
    for name, owner in owners.items():
        (tmp_path / name / "repo").mkdir(parents=True)
        (tmp_path / name / experiments.OWNER).write_text(json.dumps(owner))
    (tmp_path / "being-made").mkdir()
    dead.kill()
    dead.wait()
    assert experiments.remove_abandoned_clones() == ["killed", "reused-pid"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["being-made", "live"]


def test_a_stage_stopped_by_an_interrupt_is_not_reported_as_failed(monkeypatch):
    """DVC exits 255 both when a stage fails and when it was interrupted; its last line
    names the stage's own exit, 130 for an interrupt (tasks/common/stage.py)."""
    import logging
    import os
    import sys

    import pytest

    monkeypatch.setattr(runner, "get_run_logger", lambda: logging.getLogger("test"))
    dvc_like = ("print(\"Running stage 'train_ner':\"); print('train_ner interrupted: no output was left half-written'); "
                "print(\"ERROR: failed to reproduce 'train_ner': failed to run: python -m tasks.train_ner, exited with {}\"); "
                "raise SystemExit(255)")
    with pytest.raises(runner.StageInterrupted, match="stage train_ner was interrupted: it left no output half-written"):
        runner._stream([sys.executable, "-c", dvc_like.format(130)], dict(os.environ), "stage train_ner")
    with pytest.raises(RuntimeError, match=r"(?s)stage train_ner failed \(exit 255\):\n.*exited with 1$") as failed:
        runner._stream([sys.executable, "-c", dvc_like.format(1)], dict(os.environ), "stage train_ner")
    assert not isinstance(failed.value, runner.StageInterrupted)
