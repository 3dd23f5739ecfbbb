"""The workspace: one flow run at a time, and overrides that are checked, never written."""
import multiprocessing

import pytest
import yaml

from flows import workspace as common
from tests.support import project_params_raw


def write_params(path, epochs: int = 3) -> str:
    text = "# the user's own comment\n" + yaml.safe_dump(project_params_raw({"ner.train.epochs": epochs}),
                                                         sort_keys=False)
    path.write_text(text)
    return text


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
        # Not re-entrant: a pipeline's subflows are told it holds the lock (ParentRun),
        # so a second acquisition, even in the same process, is another run.
        with pytest.raises(common.WorkspaceBusy, match=r"flow ner_flow, pid \d+"):
            with common.workspace_lock("nested"):
                pass


def test_overrides_are_validated_and_never_written(tmp_path, monkeypatch):
    from tasks.common.params import ParamsError

    monkeypatch.setattr(common, "PROJECT_ROOT", tmp_path)
    original = write_params(tmp_path / "params.yaml")
    assert common.resolve_params({"ner.train.epochs": 5}).ner.train.epochs == 5
    assert common.resolve_params({}).ner.train.epochs == 3
    with pytest.raises(ParamsError, match="ner.train.epochs"):
        common.resolve_params({"ner.train.epochs": -2})
    assert (tmp_path / "params.yaml").read_text() == original


def test_a_pipeline_holding_the_workspace_runs_its_subflows_and_nothing_else(tmp_path, monkeypatch):
    """The lock is passed, not found: a flow told by its pipeline (ParentRun) that the
    workspace is held runs in it; a flow without that word is refused while it is held."""
    from flows import runner

    monkeypatch.setattr(common, "LOCK_FILE", tmp_path / "workspace.lock")
    monkeypatch.setattr(runner, "check_tracking_server", lambda: None)
    ran = []
    monkeypatch.setattr(runner, "_run_in_workspace", lambda name, *args: ran.append((name, args[2])) or ({}, None))
    parent = runner.ParentRun("pipeline", "run-1", holds_workspace=True)
    with common.workspace_lock("pipeline_flow"):
        runner.run_pipeline("ner", "ner", ("train_ner",), {}, "metrics/ner.json", parent=parent)
        assert ran == [("ner", "pipeline")]  # nested in the pipeline's experiment
        with pytest.raises(common.WorkspaceBusy, match="pipeline_flow"):
            runner.run_pipeline("ner", "ner", ("train_ner",), {}, "metrics/ner.json")
        not_holding = runner.ParentRun("pipeline", "run-1", holds_workspace=False)
        with pytest.raises(common.WorkspaceBusy, match="pipeline_flow"):
            runner.run_pipeline("ner", "ner", ("train_ner",), {}, "metrics/ner.json", parent=not_holding)
    runner.run_pipeline("ner", "ner", ("train_ner",), {}, "metrics/ner.json")
    assert ran[-1] == ("ner", "ner")  # on its own: its own experiment, and the lock was free
