"""Tag a new text with a trained tagger.

The artifact directory (``artifacts/ner``) describes itself: ``model.keras``,
``vocab.json`` and ``model_info.json`` (spaCy model, word length, labels, preset), so
nothing here reads ``dvc.lock`` or ``params.yaml``. spaCy tokenises and parses the text
exactly as preparation parsed the training data.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def split_sentences(t: NerTagger, text: str) -> list[Sentence]:
    """spaCy's tokens of ``text``, cut into the parser's sentences: one document. The
    parse made here only cuts sentences; tag_entities parses each sentence again on its
    own, as preparation parsed CoNLL's sentences, so arcs never cross a sentence and a
    sentence gets the parse it would get alone."""
    doc = t.nlp(text)
    sentences = [[tok.text for tok in sent if not tok.is_space] for sent in doc.sents]
    return [Sentence(tuple(s), ("O",) * len(s), 0, 0) for s in sentences if s]


def tag_entities(t: NerTagger, text: str) -> list[tuple[str, str]]:
    """Return ``[(type, entity text), ...]`` for one text, in text order. A text of several
    sentences is tagged as one document (its sentences linked by the document edges)."""
    from tasks.ner.batches import split_from_arrays
    from tasks.ner.parsing import parse, split_arrays, vocab_index
    from tasks.ner.span_f1 import spans
    from tasks.ner.training import predict_tags

    if not text.strip():
        raise DataError("<text>", None, "empty text: give a sentence to tag")
    sentences = split_sentences(t, text)
    split = split_from_arrays(split_arrays(sentences, parse(sentences, t.nlp, 64, "text"), vocab_index(t.vocab)))
    # Batches as training cut them (document windows carry their document edges); a model
    # saved before document edges has no "batching" entry: length buckets, no edges.
    batching = {"batch_size": 32, **t.info.get("batching", {})}
    tags = predict_tags(t.model, split, t.info["labels"], max_word_length=t.info["max_word_length"],
                        **batching)
    return [(etype, " ".join(s.tokens[start:end])) for s, sentence_tags in zip(sentences, tags)
            for _, start, end, etype in spans(sentence_tags)]


def format_entities(entities: list[tuple[str, str]]) -> str:
    return "\n".join(f"{etype}\t{words}" for etype, words in entities) or "(no entities found)"
