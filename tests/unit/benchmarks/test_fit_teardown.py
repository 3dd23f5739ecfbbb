"""benchmarks/fit_teardown.py: the tracing call is left out, and only waits over a second count."""
from tests.support import load_benchmark


def test_a_mode_counts_the_waits_of_every_call_but_the_first():
    bench = load_benchmark("fit_teardown")
    calls = [{"fit_seconds": 60.0, "after_train_end_seconds": 45.0},  # traces the model: left out
             {"fit_seconds": 10.0, "after_train_end_seconds": 0.2},
             {"fit_seconds": 50.0, "after_train_end_seconds": 40.0},
             {"fit_seconds": 11.0, "after_train_end_seconds": 1.0}]
    mode = bench.summarise_mode(calls)
    assert mode["calls"] == calls[1:]
    assert mode["calls_waiting_over_1s"] == 1
    assert mode["wait_seconds_total"] == 41.2 and mode["fit_seconds_total"] == 71.0


def test_the_two_modes_feed_with_one_and_with_two_workers():
    assert sorted(load_benchmark("fit_teardown").MODES.values()) == [1, 2]
