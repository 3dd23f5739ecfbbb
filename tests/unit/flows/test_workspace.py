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
        with common.workspace_lock("nested"):  # re-entrant for subflows
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
