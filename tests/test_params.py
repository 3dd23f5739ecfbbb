import subprocess
import sys

import pytest

from tasks.params import ParamsError, apply_overrides, flatten, load_params, validate_params
from tests.conftest import ROOT


def test_project_params_are_valid():
    params = load_params(ROOT / "params.yaml")
    assert params.ner.model.preset in ("seed_readme", "seed_train", "default")


@pytest.mark.parametrize("raw, key", [
    ({"ner": {"train": {"epochz": 3}}}, "ner.train.epochz: unknown key"),
    ({"ner": {"train": {"epochs": "ten"}}}, "ner.train.epochs"),
    ({"ner": {"train": {"epochs": 0}}}, "ner.train.epochs"),
    ({"ner": {"model": {"preset": "huge"}}}, "ner.model.preset"),
    ({"ner": {"model": {"dropout": 1.5}}}, "ner.model.dropout"),
    ({"ner": {"data": {"dev": "train.txt"}}}, "must differ"),
    ({"nerr": {}}, "nerr: unknown key"),
])
def test_invalid_params_name_the_key(raw, key):
    with pytest.raises(ParamsError) as err:
        validate_params(raw, "params.yaml")
    assert key in str(err.value)


def test_overrides_and_flatten():
    raw = apply_overrides({"ner": {"train": {"epochs": 3}}}, {"ner.train.epochs": 5, "ner.model.preset": "seed_train"})
    params = validate_params(raw)
    assert params.ner.train.epochs == 5 and params.ner.model.preset == "seed_train"
    flat = flatten({"ner": params.ner.model_dump()})
    assert flat["ner.train.epochs"] == 5


def test_stage_refuses_bad_params_before_work(tmp_path):
    (tmp_path / "params.yaml").write_text("ner:\n  train:\n    epochs: -1\n")
    proc = subprocess.run([sys.executable, "-m", "tasks.prepare_ner"], cwd=tmp_path, capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert "ner.train.epochs" in proc.stderr
    assert not (tmp_path / "data").exists()
