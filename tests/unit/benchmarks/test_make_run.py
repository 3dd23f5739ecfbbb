"""benchmarks/make_run.py: stage spans and wall times read back from the logs of a
`make data` and a `make run` under /usr/bin/time -v."""
import pytest

from tests.support import load_benchmark

RUN_LOG = """.venv/bin/python -m flows.pipeline
23:59:50.000 | INFO    | Task run 'dvc repro prepare_ner' - Running stage 'prepare_ner':
00:00:20.500 | INFO    | Task run 'dvc repro prepare_ner' - Finished in state Completed()
00:00:21.000 | INFO    | Task run 'register gnn-ner' - Finished in state Completed()
00:00:22.000 | INFO    | Task run 'dvc repro train_ner' - Running stage 'train_ner':
00:11:22.000 | INFO    | Task run 'dvc repro train_ner' - Finished in state Completed()
\tElapsed (wall clock) time (h:mm:ss or m:ss): 12:01.50
"""


def test_stages_are_timed_from_their_log_lines_across_midnight():
    bench = load_benchmark("make_run")
    assert bench.stage_spans(RUN_LOG) == [{"stage": "prepare_ner", "seconds": 30.5, "start_s": 0.0},
                                          {"stage": "train_ner", "seconds": 660.0, "start_s": 32.0}]
    assert bench.wall_seconds(RUN_LOG) == 721.5
    assert bench.wall_seconds("\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02:03.25") == 3723.2


def test_an_entry_keeps_what_ran_outside_the_stages():
    bench = load_benchmark("make_run")
    data_log = "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:39.15\n"
    record = bench.entry(data_log, RUN_LOG, "abc1234", "by hand")
    assert record["make_data_s"] == 99.2 and record["make_run_s"] == 721.5 and record["total_s"] == 820.7
    assert record["outside_stages_s"] == 31.0 and record["commit"] == "abc1234"
    assert record["stages_overlap_s"] == 0.0
    with pytest.raises(ValueError, match="wall time"):
        bench.wall_seconds("no timing here")


SIDE_BY_SIDE = """.venv/bin/python -m flows.pipeline
10:00:00.000 | INFO    | Task run 'dvc repro prepare_ner' - Running stage 'prepare_ner':
10:00:01.000 | INFO    | Task run 'dvc repro import_articles' - Running stage 'import_articles':
10:00:10.000 | INFO    | Task run 'dvc repro import_articles' - Finished in state Completed()
10:00:30.000 | INFO    | Task run 'dvc repro prepare_ner' - Finished in state Completed()
10:00:40.000 | INFO    | Task run 'dvc repro train_sage' - Running stage 'train_sage':
10:01:00.000 | INFO    | Task run 'dvc repro train_sage' - Finished in state Completed()
\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:15.00
"""


def test_stages_side_by_side_count_once_in_the_time_outside_them():
    bench = load_benchmark("make_run")
    spans = bench.stage_spans(SIDE_BY_SIDE)
    assert [(s["stage"], s["start_s"], s["seconds"]) for s in spans] == [
        ("import_articles", 1.0, 9.0), ("prepare_ner", 0.0, 30.0), ("train_sage", 40.0, 20.0)]
    assert bench.busy_seconds(spans) == 50.0  # 0-30 and 40-60; import_articles inside the first
    record = bench.entry("\tElapsed (wall clock) time (h:mm:ss or m:ss): 0:10.00\n", SIDE_BY_SIDE, "c", "x")
    assert record["outside_stages_s"] == 25.0 and record["stages_overlap_s"] == 9.0
