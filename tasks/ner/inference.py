"""Tag a new text with a trained tagger.

The artifact directory (``artifacts/ner``) describes itself: ``model.keras``,
``vocab.json`` and ``model_info.json`` (spaCy model, word length, labels, preset), so
nothing here reads ``dvc.lock`` or ``params.yaml``. spaCy tokenises and parses the text
exactly as preparation parsed the training data.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasks.common import paths
from tasks.common.files import DataError, read_json
from tasks.ner.conll import Sentence

TRAIN_HINT = "run `dvc repro train_ner` (or make run) first"
ARTIFACT_FILES = (paths.NER_MODEL.name, "vocab.json", paths.NER_MODEL_INFO.name)


@dataclass
class NerTagger:
    model: Any   # keras.Model
    nlp: Any     # spaCy pipeline
    vocab: dict
    info: dict   # model_info.json


def load_tagger(artifacts: Path = paths.NER_ARTIFACTS) -> NerTagger:
    import keras

    import models.graph_conv  # noqa: F401  (registers the custom layers)
    import models.ner  # noqa: F401
    from tasks.ner.parsing import load_parser

    artifacts = Path(artifacts)
    missing = [name for name in ARTIFACT_FILES if not (artifacts / name).is_file()]
    if missing:
        raise DataError(artifacts / missing[0], None, f"no trained NER model yet: {TRAIN_HINT}")
    info = read_json(artifacts / paths.NER_MODEL_INFO.name)
    return NerTagger(keras.models.load_model(artifacts / paths.NER_MODEL.name), load_parser(info["spacy_model"]),
                     read_json(artifacts / "vocab.json"), info)


def tag_entities(t: NerTagger, text: str) -> list[tuple[str, str]]:
    """Return ``[(type, entity text), ...]`` for one text."""
    from tasks.ner.batches import load_split, make_batch
    from tasks.ner.parsing import parse, split_arrays, vocab_index
    from tasks.ner.span_f1 import spans

    if not text.strip():
        raise DataError("<text>", None, "empty text: give a sentence to tag")
    tokens = [tok.text for tok in t.nlp.tokenizer(text) if not tok.is_space]
    sentence = Sentence(tuple(tokens), ("O",) * len(tokens), 0)
    buf = io.BytesIO()
    np.savez(buf, **split_arrays([sentence], parse([sentence], t.nlp, 1, "text"), vocab_index(t.vocab)))
    buf.seek(0)
    x, _, _ = make_batch(load_split(buf), np.array([0]), t.info["max_word_length"])
    probs = np.asarray(t.model.predict_on_batch(x))[0, :len(tokens)]
    tags = [t.vocab["labels"][k] for k in probs.argmax(-1)]
    return [(etype, " ".join(tokens[start:end])) for _, start, end, etype in spans(tags)]


def format_entities(entities: list[tuple[str, str]]) -> str:
    return "\n".join(f"{etype}\t{words}" for etype, words in entities) or "(no entities found)"
