"""benchmarks/records.py: a run added to a results file keeps the other runs."""
import json

from benchmarks.records import record


def test_a_new_label_is_added_a_known_one_replaced_and_the_others_kept(tmp_path):
    path = tmp_path / "results.json"
    record(path, "before", {"wall_s": 3.0})
    record(path, "after", {"wall_s": 2.0})
    runs = record(path, "before", {"wall_s": 2.5})
    assert runs == json.loads(path.read_text()) == {"before": {"wall_s": 2.5}, "after": {"wall_s": 2.0}}
    assert path.read_text().endswith("}\n") and [p.name for p in tmp_path.iterdir()] == ["results.json"]
