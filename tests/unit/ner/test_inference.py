"""Inference on new text: a word outside the tagger's vocabulary gets its pretrained
vector (as preparation gives the dev and test words theirs), and nothing the tagger
already knew changes. Reference: the vectors read straight from their source."""
import json
import shutil

import numpy as np
import pytest

from tasks.common import paths
from tests.support import TINY_NER, tiny_params
from tests.synthetic import write_conll_slice

TINY = {**TINY_NER, "ner.data.dir": "raw", "ner.data.max_sentences": 30, "ner.train.patience": 10,
        "ner.train.epochs": 2}
UNSEEN = "zeppelin"      # a GloVe word that the tiny slice never uses (asserted below)
NO_VECTOR = "zorblaxian"  # in neither


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    import tasks.ner.training as tn
    from tasks.ner.preparation import prepare

    base = tmp_path_factory.mktemp("ner")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        write_conll_slice(base / "raw", sentences=30)
        params = tiny_params(TINY).ner
        prepare(params, paths.NER_PREPARED)
        tn.train(params)
    return base / paths.NER_ARTIFACTS


def word_rows(tagger) -> np.ndarray:
    return np.asarray(tagger.model.get_layer("word_embedding").embeddings)


def test_an_unseen_word_gets_its_pretrained_vector_and_known_words_keep_theirs(artifacts):
    from tasks.common.vectors import load_vectors
    from tasks.ner.features import UNK
    from tasks.ner.inference import load_tagger, split_sentences, tag_entities, token_tags
    from tasks.ner.parsing import parse, split_arrays

    plain, grown = load_tagger(artifacts, pretrained_words=False), load_tagger(artifacts)
    known = len(plain.vocab["words"])
    vectors = load_vectors(json.loads((artifacts / "model_info.json").read_text())["embeddings"])
    assert UNSEEN not in plain.index["words"] and UNSEEN in vectors and NO_VECTOR not in vectors
    assert grown.vocab["words"][:known] == plain.vocab["words"]
    assert set(grown.vocab["words"][known:]) == {w for w in vectors if w == w.lower()} - set(plain.vocab["words"])

    rows = word_rows(grown)
    assert np.array_equal(rows[:known], word_rows(plain))
    assert np.array_equal(rows[grown.index["words"][UNSEEN]], vectors[UNSEEN])
    for old, new in zip(plain.model.weights, grown.model.weights, strict=True):
        if old.path != plain.model.get_layer("word_embedding").embeddings.path:
            assert np.array_equal(np.asarray(old), np.asarray(new)), old.path

    text = f"Zeppelin and {NO_VECTOR.title()} met John Smith in Paris ."
    sentences = split_sentences(grown, text)
    ids = split_arrays(sentences, parse(sentences, grown.nlp, 8, "text"), grown.index)["word"]
    assert ids[0] == grown.index["words"][UNSEEN] >= known and ids[2] == UNK
    # A text of words the tagger knew: the same entities either way.
    known_words = [w for w in plain.vocab["words"][2:] if w.isalpha()][:12]
    known_text = " ".join(w.title() if i % 3 == 0 else w for i, w in enumerate(known_words)) + " ."
    assert token_tags(grown, known_text)[1] == token_tags(plain, known_text)[1]  # every token's tag, "O" too
    assert tag_entities(grown, known_text) == tag_entities(plain, known_text)


def test_a_model_without_readable_vectors_is_served_as_it_was(artifacts, tmp_path, capsys):
    from tasks.ner.inference import load_tagger

    moved = tmp_path / "ner"
    shutil.copytree(artifacts, moved)
    info_file = moved / "model_info.json"
    info = json.loads(info_file.read_text())
    size = len(load_tagger(moved, pretrained_words=False).vocab["words"])

    info_file.write_text(json.dumps({k: v for k, v in info.items() if k != "embeddings"}))
    assert len(load_tagger(moved).vocab["words"]) == size  # saved before the field: as it was

    info_file.write_text(json.dumps({**info, "embeddings": str(tmp_path / "gone.txt")}))
    assert len(load_tagger(moved).vocab["words"]) == size
    err = capsys.readouterr().err
    assert "pretrained vectors unavailable" in err and "gone.txt" in err

    # model_info.json no longer describes the saved weights: served as it was, with a warning
    info_file.write_text(json.dumps({**info, "config": {**info["config"], "char_filters": 0}}))
    assert len(load_tagger(moved).vocab["words"]) == size
    assert "cannot add pretrained words" in capsys.readouterr().err
