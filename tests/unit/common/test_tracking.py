"""MLflow tracking of a stage: an interrupted stage still ends its run."""
import sqlite3
import time

import pytest


def test_ctrl_c_during_a_read_of_the_store_still_ends_the_run_failed(tmp_path, monkeypatch):
    """Ctrl-C can land while the SQLite store is being read. The unfinished statement,
    kept alive by a frame of the KeyboardInterrupt's traceback, holds its read lock; the
    stage then could not end its run (the store's 20 s busy timeout, then "database is
    locked"), and every other process of the flow waited on it too."""
    from tasks.common.tracking import stage_run

    db = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")

    def read_interrupted():
        rows = sqlite3.connect(db).execute("SELECT * FROM metrics")
        assert rows.fetchone() is not None  # a read in progress: its statement is unfinished
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with stage_run("probe", "probe") as mlflow:
            for step in range(3):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            read_interrupted()
    assert time.monotonic() - started < 15

    client = mlflow.MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("probe").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
