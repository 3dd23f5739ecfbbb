"""The Run form: every parameter of a flow's stage tree, with params.yaml's value as the
default, its description, range and choices (what the Prefect UI renders)."""
import os

import pytest

from flows import forms
from tasks.common.params import ParamsError, flatten, read_raw
from tasks.common.settings import PROJECT_ROOT


def _schema_fields(flow) -> dict[str, dict]:
    """Flow parameter schema flattened to dotted keys -> field schema (with $refs resolved)."""
    schema = flow.parameters.model_dump()
    defs = schema["definitions"]

    def walk(props: dict, prefix: str, out: dict) -> dict:
        for name, prop in props.items():
            ref = prop.get("$ref") or next((p["$ref"] for p in prop.get("allOf", []) if "$ref" in p), None)
            if ref:
                walk(defs[ref.split("/")[-1]]["properties"], f"{prefix}{name}.", out)
            else:
                out[f"{prefix}{name}"] = prop
        return out

    return walk(schema["properties"], "", {})


@pytest.mark.parametrize("top", ["ner", "tags"])
def test_every_parameter_shows_its_params_yaml_value_and_description(top):
    from flows.ner import ner_flow
    from flows.tags import tags_flow

    fields = _schema_fields({"ner": ner_flow, "tags": tags_flow}[top])
    current = flatten(read_raw(PROJECT_ROOT / "params.yaml")[top])
    assert set(fields) == set(current)  # the whole stage tree, not a hand-picked few
    for key, prop in fields.items():
        assert prop["default"] == current[key], key
        assert len(prop.get("description", "")) > 10, f"{key} has no description"


def test_choices_are_drop_downs_and_ranges_are_stated():
    from flows.ner import ner_flow
    from flows.tags import tags_flow

    ner, tags = _schema_fields(ner_flow), _schema_fields(tags_flow)
    assert ner["model.preset"]["enum"] == ["seed_readme", "seed_train", "default"]
    assert ner["train.epochs"]["minimum"] == 1 and ner["train.epochs"]["type"] == "integer"
    assert tags["sage.preset"]["enum"] == ["default", "gds", "supervised", "random"]
    assert tags["sampling.sampling_ratio"]["exclusiveMinimum"] == 0.0
    assert tags["sampling.sampling_ratio"]["maximum"] == 1.0


def test_the_pipeline_form_holds_both_trees():
    from flows.pipeline import pipeline_flow

    fields = _schema_fields(pipeline_flow)
    current = flatten(read_raw(PROJECT_ROOT / "params.yaml"))
    assert set(fields) == set(current)


def test_only_changed_values_are_overrides():
    sections = forms.FlowForms.read().sections("tags")
    evaluate, data = sections["evaluate"], sections["data"]
    assert forms.overrides_from("tags", {"evaluate": evaluate(), "data": data()}) == {}
    max_iter = evaluate().max_iter
    changed = forms.overrides_from("tags", {"evaluate": evaluate(max_iter=max_iter + 1, seeds=evaluate().seeds)})
    assert changed == {"tags.evaluate.max_iter": max_iter + 1}
    assert forms._equal(1, 1.0) and not forms._equal(True, 1) and not forms._equal("1", 1)


def test_form_defaults_follow_the_values_given():
    from tasks.common.params import TagsSage

    values = dict(read_raw(PROJECT_ROOT / "params.yaml")["tags"]["sage"], epochs=77)
    model = forms.form_model(TagsSage, values, "tags.sage")
    assert model().epochs == 77
    with pytest.raises(Exception, match="greater than or equal to 1"):
        model(epochs=0)


def test_command_line_sets_are_yaml_and_checked_by_the_schema():
    assert forms.parse_sets(["tags.sage.sample_sizes=[4, 3]", "tags.data.dir=data/x"]) == {
        "tags.sage.sample_sizes": [4, 3], "tags.data.dir": "data/x"}
    with pytest.raises(ParamsError, match="expected KEY=VALUE"):
        forms.parse_sets(["tags.sage.epochs"])
    with pytest.raises(ParamsError, match="tags.sage.epochs"):
        forms.chosen_values("tags", {"tags.sage.epochs": 0})
    with pytest.raises(ParamsError, match="no key 'epoch'"):
        forms.chosen_values("tags", {"tags.sage.epoch": 3})


IMPORT_READS_NOTHING = """
import tasks.common.params as params
def refuse(*args, **kwargs):
    raise SystemExit("params.yaml was read while importing the flow modules")
params.read_raw = refuse
import flows.forms, flows.ner, flows.tags, flows.pipeline, flows.serve
print("imported")
"""


def test_importing_the_flows_reads_no_params_yaml():
    """Forms come from a factory (FlowForms), called by whoever builds a flow; an import
    reads nothing (a module-level ``FlowForms.read()`` makes this fail)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", IMPORT_READS_NOTHING], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "imported", proc.stderr[-2000:]


def test_deployment_entrypoints_build_the_flow_with_the_values_of_the_moment(monkeypatch, tmp_path):
    """What a served or cluster deployment runs: Prefect loads ``flows/x.py:x_flow`` (its
    module builds the flow when it is looked up), and the entrypoint Prefect derives from
    a built flow is that same string."""
    from prefect.flows import load_flow_from_entrypoint

    from flows.ner import build_ner_flow
    from flows.serve import DEPLOYMENTS, load_flows

    monkeypatch.chdir(PROJECT_ROOT)  # Prefect derives entrypoints relative to the working folder
    built = load_flows()
    for name, (entrypoint, _) in DEPLOYMENTS.items():
        loaded = load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)
        assert loaded.name == built[name].name == name
        assert built[name].to_deployment(name=name).entrypoint == entrypoint
    values = read_raw(PROJECT_ROOT / "params.yaml")
    values["ner"]["train"]["epochs"] = 77
    flow = build_ner_flow(forms.FlowForms(values))
    assert _schema_fields(flow)["train.epochs"]["default"] == 77


def test_a_flow_started_outside_make_switches_telemetry_off_before_prefect_starts(monkeypatch):
    """Prefect's temporary server is a subprocess that takes the flow process's environment
    when the flow starts: quiet.env must be applied by then (it once was applied only when
    the first stage started, and the temporary server tried to send telemetry)."""
    from flows.forms import run_cli
    from tasks.common.settings import quiet_values

    for key in quiet_values():
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr("flows.ui.running_prefect_api", lambda: None)
    seen = {}

    def start_server() -> str:  # what the temporary server inherits when it starts
        seen.update(os.environ)
        return "http://127.0.0.1:9/api"

    monkeypatch.setattr("flows.ui.start_temporary_prefect_server", start_server)
    run_cli(lambda: lambda: None)
    assert {key: seen.get(key) for key in quiet_values()} == quiet_values()
    assert seen["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
