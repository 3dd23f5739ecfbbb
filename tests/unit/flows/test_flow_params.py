"""The flow's parameters are typed, so the Prefect UI renders a form (enum, integers)."""
from flows.ner import ner_flow


def test_ner_flow_parameters_are_typed_for_the_ui():
    props = ner_flow.parameters.model_dump()["properties"]
    assert set(props) == {"preset", "epochs", "seed", "batch_size", "max_sentences"}
    enum = next(t for t in props["preset"]["anyOf"] if "enum" in t)["enum"]
    assert enum == ["seed_readme", "seed_train", "default"]
    for name in ("epochs", "seed", "batch_size", "max_sentences"):
        assert {"type": "integer"} in props[name]["anyOf"] and props[name]["default"] is None


def test_tags_flow_parameters_are_typed_for_the_ui():
    from flows.tags import tags_flow

    props = tags_flow.parameters.model_dump()["properties"]
    assert {"data_format", "data_dir", "aggregator", "epochs", "min_count", "sampling_ratio"} <= set(props)
    enum = next(t for t in props["aggregator"]["anyOf"] if "enum" in t)["enum"]
    assert enum == ["mean", "pool"]
    assert {"type": "number"} in props["sampling_ratio"]["anyOf"]
