"""benchmarks/ner_step_parts.py: each part's model lacks exactly that part, and every
batch trains every model in turn (so drift in the machine's speed hits them alike)."""
import dataclasses

from tests.support import load_benchmark


def test_each_part_model_is_the_default_without_that_part():
    from models.ner import resolve_config

    parts = load_benchmark("ner_step_parts").PARTS
    default = resolve_config("default")
    assert default.output == "crf" and default.gcn_units and default.char_filters and default.context_units
    changed = {part: {f.name for f in dataclasses.fields(default)
                      if getattr(resolve_config("default", **overrides), f.name) != getattr(default, f.name)}
               for part, overrides in parts.items()}
    assert changed == {"crf": {"output"}, "gcn": {"gcn_units"}, "char_cnn": {"char_filters"},
                       "bilstm": {"context_units"}}
    assert resolve_config("default", **parts["gcn"]).gcn_units == ()


def test_every_batch_trains_every_model_in_turn():
    bench = load_benchmark("ner_step_parts")
    calls = []

    class Model:
        def __init__(self, name):
            self.name = name

        def train_on_batch(self, x, y, sample_weight=None):
            calls.append((self.name, x))

    ms = bench.time_in_turns({"a": Model("a"), "b": Model("b")}, [(0, None, None), (1, None, None)])
    assert calls == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    assert set(ms) == {"a", "b"} and all(v >= 0 for v in ms.values())
