"""Flow plumbing: the workspace lock and overrides that never leak into params.yaml."""
import multiprocessing

import pytest

from flows import common


def _hold_lock(ready, release):
    with common.workspace_lock("other_flow"):
        ready.set()
        release.wait(30)


def test_second_flow_run_is_refused_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "LOCK_FILE", tmp_path / "workspace.lock")
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(common.WorkspaceBusy, match=r"another flow run .*other_flow, pid \d+"):
            with common.workspace_lock("ner_flow"):
                pass
    finally:
        release.set()
        holder.join(30)
    with common.workspace_lock("ner_flow"):  # free again
        with common.workspace_lock("nested"):  # re-entrant for subflows
            pass


def test_overrides_are_validated_and_restored(tmp_path, monkeypatch):
    from tasks.params import ParamsError

    monkeypatch.setattr(common, "PROJECT_ROOT", tmp_path)
    (tmp_path / "params.yaml").write_text("ner:\n  train:\n    epochs: 3  # a comment\n")
    original = (tmp_path / "params.yaml").read_text()
    with common.effective_params({"ner.train.epochs": 5, "ner.train.seed": None}) as params:
        assert params.ner.train.epochs == 5
        assert "epochs: 5" in (tmp_path / "params.yaml").read_text()
    assert (tmp_path / "params.yaml").read_text() == original
    with pytest.raises(ParamsError, match="ner.train.epochs"):
        with common.effective_params({"ner.train.epochs": -2}):
            pass
    assert (tmp_path / "params.yaml").read_text() == original


def test_epoch_lines_become_progress(monkeypatch):
    calls = []
    import prefect.artifacts as artifacts

    monkeypatch.setattr(artifacts, "create_progress_artifact",
                        lambda value, key, description: calls.append(("create", value, key)) or "id-1")
    monkeypatch.setattr(artifacts, "update_progress_artifact",
                        lambda aid, value, description: calls.append(("update", value, aid)))
    aid = common._report_progress("train_ner", "epoch 1/4: loss 0.3", None)
    aid = common._report_progress("train_ner", "some other line", aid)
    common._report_progress("train_ner", "epoch 2/4: loss 0.2", aid)
    assert calls == [("create", 25.0, "train-ner-progress"), ("update", 50.0, "id-1")]


def test_params_left_overridden_by_a_killed_run_are_restored(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "PROJECT_ROOT", tmp_path)
    (tmp_path / "params.yaml").write_text("ner:\n  train:\n    epochs: 3\n")
    original = (tmp_path / "params.yaml").read_text()
    ctx = common.effective_params({"ner.train.epochs": 7})
    ctx.__enter__()  # ... and the process dies here: no __exit__
    assert "epochs: 7" in (tmp_path / "params.yaml").read_text()
    with common.effective_params({}) as params:  # the next flow run
        assert params.ner.train.epochs == 3
    assert (tmp_path / "params.yaml").read_text() == original
    assert not common._backup_path().exists()


def test_reproduce_command_names_commit_overrides_and_target():
    cmd = common.reproduce_command({"tags.sage.sample_sizes": [4, 3], "ner.model.preset": "seed_readme"},
                                   "train_ner", "abc123-dirty")
    assert cmd == ("git checkout abc123 && dvc exp run -S 'ner.model.preset=seed_readme' "
                   "-S 'tags.sage.sample_sizes=[4,3]' train_ner")
    assert common.reproduce_command({}, "evaluate_tags", "unknown") == "dvc exp run evaluate_tags"
