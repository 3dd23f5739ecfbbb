"""train_ner on tiny data: outputs, early stopping bookkeeping, and resume after an
interruption."""
import json
from pathlib import Path

import pytest

from tasks.params import apply_overrides, validate_params
from tests.data_fixtures import write_conll_slice

TINY = {
    "ner.data.dir": "raw", "ner.data.max_sentences": 30,
    "ner.model.context_units": 8, "ner.model.gcn_units": 8, "ner.model.char_filters": 4,
    "ner.train.epochs": 3, "ner.train.patience": 10, "ner.train.batch_size": 8,
}


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    from tasks.prepare_ner import prepare

    monkeypatch.chdir(tmp_path)
    write_conll_slice(tmp_path / "raw", sentences=30)
    params = validate_params(apply_overrides({}, TINY)).ner
    prepare(params)
    return params


def test_interrupted_training_resumes_from_last_epoch(prepared, monkeypatch, capsys):
    import tasks.train_ner as tn

    real_predict = tn.predict_tags
    calls = {"n": 0}

    def interrupt_in_epoch_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_predict(*args, **kwargs)

    monkeypatch.setattr(tn, "predict_tags", interrupt_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        tn.train(prepared)
    assert not Path("metrics/ner.json").exists() and not Path("artifacts/ner").exists()
    state = json.loads((tn.checkpoint_dir(prepared) / "state.json").read_text())
    assert state["epoch"] == 1 and len(state["history"]) == 1

    monkeypatch.setattr(tn, "predict_tags", real_predict)
    results = tn.train(prepared)
    assert "resuming from epoch 1" in capsys.readouterr().out
    assert results["epochs_run"] == 3
    history = Path("plots/ner/history.csv").read_text().splitlines()
    assert len(history) == 4 and history[1].startswith("1,")
    assert set(results["test"]) >= {"precision", "recall", "f1", "per_type"}
    assert 0.0 <= results["test"]["f1"] <= 1.0
    lines = Path("artifacts/ner/test_predictions.txt").read_text().split("\n\n")
    n_test = json.loads(Path("data/prepared/ner/stats.json").read_text())["test"]["sentences"]
    assert len([b for b in lines if b.strip()]) == n_test
    assert all(len(line.split(" ")) == 3 for line in lines[0].splitlines())
    assert not tn.checkpoint_dir(prepared).exists()


def test_predict_ner_uses_the_trained_model(prepared):
    import tasks.train_ner as tn
    from tasks.io import DataError
    from tasks.predict import ner_entities

    with pytest.raises(DataError, match="no trained NER model"):
        ner_entities("John Smith lives in Paris .")
    tn.train(prepared)
    # params.yaml is read for the spaCy model and word length: write the test's params.
    import yaml

    from tasks.params import Params, apply_overrides

    Path("params.yaml").write_text(yaml.safe_dump(apply_overrides(Params().model_dump(), TINY)))
    entities = ner_entities("John Smith lives in Paris .")
    assert all(t in {"PER", "LOC", "ORG", "MISC"} and w for t, w in entities)
    with pytest.raises(DataError, match="empty text"):
        ner_entities("  ")
