"""benchmarks/ner_histories.py: a re-run's history joins a run file only when the re-run
is the same run; the file keeps its own clock and commit."""
import pytest

from tests.support import load_benchmark

ORIGINAL = {"variant": "graph", "seed": 43, "commit": "aaaaaaa", "seconds": 700.0, "best_epoch": 22,
            "epochs_run": 28, "dev_precision": 0.95, "dev_recall": 0.94, "dev_f1": 0.945,
            "test_precision": 0.91, "test_recall": 0.90, "test_f1": 0.905}


def rerun(**changes):
    return {**ORIGINAL, "commit": "bbbbbbb", "seconds": 1800.0, "dev_f1_by_epoch": [0.9] * 28,
            "epoch_seconds": [60.0] * 28, **changes}


def test_the_same_run_gives_its_history_and_the_file_keeps_its_clock():
    histories = load_benchmark("ner_histories")
    merged = histories.merge_history(ORIGINAL, rerun(), "2026-12-06")
    assert merged["dev_f1_by_epoch"] == [0.9] * 28 and merged["epoch_seconds"] == [60.0] * 28
    assert (merged["seconds"], merged["commit"]) == (700.0, "aaaaaaa")
    assert "bbbbbbb" in merged["history_from"]


@pytest.mark.parametrize("field, value", [("test_f1", 0.9051), ("dev_recall", 0.9401), ("best_epoch", 21),
                                          ("epochs_run", 27)])
def test_another_run_is_refused_naming_the_field(field, value):
    histories = load_benchmark("ner_histories")
    with pytest.raises(ValueError, match=field):
        histories.merge_history(ORIGINAL, rerun(**{field: value}), "2026-12-06")
