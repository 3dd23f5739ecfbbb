import subprocess
import sys

import pytest

from tasks.common.params import Params, ParamsError, apply_overrides, flatten, load_params, validate_params
from tests.support import ROOT, project_params_raw


def test_project_params_are_valid():
    params = load_params(ROOT / "params.yaml")
    assert params.ner.model.preset in ("seed_readme", "seed_train", "default")


def test_schema_holds_no_defaults():
    """params.yaml is the only source of defaults: every schema field is required."""
    def fields(model):
        for name, info in model.model_fields.items():
            yield f"{model.__name__}.{name}", info
            sub = info.annotation
            if isinstance(sub, type) and issubclass(sub, type(Params).__mro__[0]) and hasattr(sub, "model_fields"):
                yield from fields(sub)

    with_default = [name for name, info in fields(Params) if not info.is_required()]
    assert with_default == []


def test_recipe_switches_are_the_fields_given_an_off_value_and_off_is_valid():
    from tasks.common.params import F, NerTrain, Strict, switches_off

    class Section(Strict):
        rate: float = F("a switch", off=0.0, ge=0.0)
        mode: str = F("a switch whose off value is a word", off="none")
        size: int = F("not a switch", ge=1)

    assert switches_off(Section) == {"rate": 0.0, "mode": "none"}
    recipe = switches_off(NerTrain)
    assert recipe and set(recipe) < set(NerTrain.model_fields)
    # Every switch's off value passes the field's own range (a variant pins it so).
    ner = validate_params(project_params_raw({f"ner.train.{k}": v for k, v in recipe.items()})).ner.train
    assert all(getattr(ner, k) == v for k, v in recipe.items())


@pytest.mark.parametrize("override, key", [
    ({"ner.train.epochs": "ten"}, "ner.train.epochs"),
    ({"ner.train.epochs": 0}, "ner.train.epochs"),
    ({"ner.model.preset": "huge"}, "ner.model.preset"),
    ({"ner.model.dropout": 1.5}, "ner.model.dropout"),
    ({"ner.data.dev": "train.txt"}, "must differ"),
    ({"tags.sage.aggregator": "sum"}, "tags.sage.aggregator"),
])
def test_invalid_params_name_the_key(override, key):
    with pytest.raises(ParamsError) as err:
        validate_params(project_params_raw(override), "params.yaml")
    assert key in str(err.value)


def test_unknown_and_missing_keys_are_named():
    raw = project_params_raw()
    raw["ner"]["train"]["epochz"] = 3
    del raw["tags"]["sage"]["epochs"]
    raw["nerr"] = {}
    with pytest.raises(ParamsError) as err:
        validate_params(raw, "params.yaml")
    text = str(err.value)
    assert "ner.train.epochz: unknown key" in text and "nerr: unknown key" in text
    assert "tags.sage.epochs: missing" in text


def test_overrides_and_flatten():
    raw = apply_overrides(project_params_raw(), {"ner.train.epochs": 5, "ner.model.preset": "seed_train"})
    params = validate_params(raw)
    assert params.ner.train.epochs == 5 and params.ner.model.preset == "seed_train"
    flat = flatten({"ner": params.ner.model_dump()})
    assert flat["ner.train.epochs"] == 5
    with pytest.raises(ParamsError, match="no key 'epochz'"):
        apply_overrides(project_params_raw(), {"ner.train.epochz": 5})  # overrides never add keys


def test_stage_refuses_bad_params_before_work(tmp_path):
    (tmp_path / "params.yaml").write_text("ner:\n  train:\n    epochs: -1\n")
    proc = subprocess.run([sys.executable, "-m", "tasks.prepare_ner"], cwd=tmp_path, capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert "ner.train.epochs" in proc.stderr
    assert not (tmp_path / "data").exists()
