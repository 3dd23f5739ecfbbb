"""benchmarks/sage_feeding.py: the tracing epoch is left out of the later-epoch mean, and
every round's weights digest is kept (the modes must all agree)."""
from tests.support import load_benchmark


def test_a_mode_averages_every_epoch_but_each_rounds_first():
    bench = load_benchmark("sage_feeding")
    runs = [{"epoch_seconds": [9.0, 5.0, 7.0], "steps_per_epoch": 406, "weights_sha256": "ab"},
            {"epoch_seconds": [11.0, 6.0, 6.0], "steps_per_epoch": 406, "weights_sha256": "cd"}]
    mode = bench.summarise(runs)
    assert mode["first_epoch_s"] == 10.0 and mode["later_epoch_s"] == 6.0
    assert mode["weights_sha256"] == ["ab", "cd"] and mode["steps_per_epoch"] == 406


def test_the_two_modes_feed_with_one_and_with_two_workers():
    bench = load_benchmark("sage_feeding")
    assert sorted(bench.MODES.values()) == [1, 2]
