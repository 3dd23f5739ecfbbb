"""The stage runner's progress mirroring and the reproduce command of a flow run."""
from flows import reporting, runner


def test_epoch_lines_become_progress(monkeypatch):
    calls = []
    import prefect.artifacts as artifacts

    monkeypatch.setattr(artifacts, "create_progress_artifact",
                        lambda value, key, description: calls.append(("create", value, key)) or "id-1")
    monkeypatch.setattr(artifacts, "update_progress_artifact",
                        lambda aid, value, description: calls.append(("update", value, aid)))
    aid = runner._report_progress("train_ner", "epoch 1/4: loss 0.3", None)
    aid = runner._report_progress("train_ner", "some other line", aid)
    runner._report_progress("train_ner", "epoch 2/4: loss 0.2", aid)
    assert calls == [("create", 25.0, "train-ner-progress"), ("update", 50.0, "id-1")]
    calls.clear()
    runner._report_progress("train_sage", "seed 43 epoch 3/20: loss 1.07 (4.8s)", None)
    assert calls == [("create", 15.0, "train-sage-progress")]



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
