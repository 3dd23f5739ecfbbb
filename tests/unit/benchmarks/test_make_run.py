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
    assert bench.stage_spans(RUN_LOG) == [{"stage": "prepare_ner", "seconds": 30.5},
                                          {"stage": "train_ner", "seconds": 660.0}]
    assert bench.wall_seconds(RUN_LOG) == 721.5
    assert bench.wall_seconds("\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02:03.25") == 3723.2


def test_an_entry_keeps_what_ran_outside_the_stages():
    bench = load_benchmark("make_run")
    data_log = "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:39.15\n"
    record = bench.entry(data_log, RUN_LOG, "abc1234", "by hand")
    assert record["make_data_s"] == 99.2 and record["make_run_s"] == 721.5 and record["total_s"] == 820.7
    assert record["outside_stages_s"] == 31.0 and record["commit"] == "abc1234"
    with pytest.raises(ValueError, match="wall time"):
        bench.wall_seconds("no timing here")
