"""Tag a new text with a trained tagger.

The artifact directory (``artifacts/ner``) describes itself: ``model.keras``,
``vocab.json`` and ``model_info.json`` (spaCy model, word length, labels, preset, the
pretrained vectors' source), so nothing here reads ``dvc.lock`` or ``params.yaml``. spaCy
tokenises and parses the text exactly as preparation parsed the training data, and a word
outside the vocabulary gets its pretrained vector as preparation gave the dev and test words
their vectors (add_pretrained_words).
"""
from __future__ import annotations

from dataclasses import dataclass, field
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
    index: dict = field(init=False, repr=False)  # vocab's lookups, built once

    def __post_init__(self):
        from tasks.ner.parsing import vocab_index

        self.index = vocab_index(self.vocab)


def load_tagger(artifacts: Path = paths.NER_ARTIFACTS, pretrained_words: bool = True) -> NerTagger:
    """The tagger saved under ``artifacts``; ``pretrained_words``: with add_pretrained_words."""
    import keras

    import models.graph_conv  # noqa: F401  (registers the custom layers)
    import models.ner  # noqa: F401
    from tasks.ner.parsing import load_parser

    artifacts = Path(artifacts)
    missing = [name for name in ARTIFACT_FILES if not (artifacts / name).is_file()]
    if missing:
        raise DataError(artifacts / missing[0], None, f"no trained NER model yet: {TRAIN_HINT}")
    info = read_json(artifacts / paths.NER_MODEL_INFO.name)
    tagger = NerTagger(keras.models.load_model(artifacts / paths.NER_MODEL.name), load_parser(info["spacy_model"]),
                       read_json(artifacts / "vocab.json"), info)
    return add_pretrained_words(tagger) if pretrained_words else tagger


def add_pretrained_words(t: NerTagger) -> NerTagger:
    """The tagger with every pretrained word it lacks (``info["embeddings"]``, the vectors
    preparation used) appended to its vocabulary, each with its pretrained vector.

    Why: the vocabulary holds the training words and the dev/test words that have a
    vector; those dev/test words keep their pretrained vectors, never trained, and the
    scores are measured with them. A new text's unseen word ("Siemens") would otherwise
    map to ``<unk>``, whose row training never updates (it stays zeros), so new text would
    be tagged with less than the scored splits got. Known words keep their ids and rows,
    so what the model predicts for them does not change. A model saved without the field
    is returned as it is; vectors that cannot be read, or a model the builder cannot
    rebuild from ``model_info.json``, leave a warning and the same."""
    import sys

    from tasks.common.vectors import load_vectors

    source = t.info.get("embeddings")
    if not source:
        return t
    try:
        vectors = load_vectors(source)
    except (DataError, OSError) as e:
        print(f"warning: pretrained vectors unavailable ({e}); unseen words map to <unk>", file=sys.stderr)
        return t
    known = set(t.vocab["words"])
    extra = sorted(w for w in vectors if w == w.lower() and w not in known)  # tokens are looked up lower-cased
    if not extra:
        return t
    try:
        model = _with_more_words(t, np.stack([vectors[w] for w in extra]))
    except ValueError as e:
        print(f"warning: {e}; unseen words map to <unk>", file=sys.stderr)
        return t
    return NerTagger(model, t.nlp, {**t.vocab, "words": [*t.vocab["words"], *extra]}, t.info)


def _with_more_words(t: NerTagger, rows: np.ndarray):
    """The same model rebuilt with ``rows`` appended to its word embedding; every other
    weight copied unchanged (the builder makes the same weights in the same order).
    ValueError when the rebuilt model's weights differ in number or shape."""
    from models.ner import NerModelConfig, build_ner_model

    try:
        config = NerModelConfig(**{**t.info["config"], "gcn_units": tuple(t.info["config"]["gcn_units"])})
    except (TypeError, KeyError) as e:  # a field this code does not know, or lacks
        raise ValueError(f"cannot add pretrained words: model_info.json's config does not fit this code ({e})") from e
    table = t.model.get_layer("word_embedding").embeddings
    grown = build_ner_model(config, vocab_size=table.shape[0] + len(rows), embedding_dim=table.shape[1],
                            num_chars=len(t.vocab["chars"]), num_labels=len(t.info["labels"]),
                            num_dep_labels=len(t.vocab["relations"]), num_casings=t.vocab.get("casings", 8),
                            labels=t.info["labels"])
    if len(t.model.weights) != len(grown.weights):
        raise ValueError(f"cannot add pretrained words: the rebuilt model has {len(grown.weights)} weights, "
                         f"the saved one {len(t.model.weights)}")
    values = []
    for old, new in zip(t.model.weights, grown.weights):
        value = np.asarray(old)
        if old is table:
            value = np.concatenate([value, rows.astype(value.dtype)])
        if value.shape != tuple(new.shape):  # (sub-layer names differ between builds: shapes only)
            raise ValueError(f"cannot add pretrained words: weight {old.path} {value.shape} does not match "
                             f"the rebuilt model's {new.path} {tuple(new.shape)}")
        values.append(value)
    grown.set_weights(values)
    return grown


def split_sentences(t: NerTagger, text: str) -> list[Sentence]:
    """spaCy's tokens of ``text``, cut into the parser's sentences: one document. The
    parse made here only cuts sentences; tag_entities parses each sentence again on its
    own, as preparation parsed CoNLL's sentences, so arcs never cross a sentence and a
    sentence gets the parse it would get alone."""
    doc = t.nlp(text)
    sentences = [[tok.text for tok in sent if not tok.is_space] for sent in doc.sents]
    return [Sentence(tuple(s), ("O",) * len(s), 0, 0) for s in sentences if s]


def token_tags(t: NerTagger, text: str) -> tuple[list[Sentence], list[list[str]]]:
    """The text's sentences and each token's IOB2 tag. A text of several sentences is
    tagged as one document (its sentences linked by the document edges)."""
    from tasks.ner.batches import split_from_arrays
    from tasks.ner.parsing import parse, split_arrays
    from tasks.ner.training import predict_tags

    if not text.strip():
        raise DataError("<text>", None, "empty text: give a sentence to tag")
    sentences = split_sentences(t, text)
    split = split_from_arrays(split_arrays(sentences, parse(sentences, t.nlp, 64, "text"), t.index))
    # Batches as training cut them (document windows carry their document edges); a model
    # saved before document edges has no "batching" entry: length buckets, no edges.
    batching = {"batch_size": 32, **t.info.get("batching", {})}
    return sentences, predict_tags(t.model, split, t.info["labels"], max_word_length=t.info["max_word_length"],
                                   **batching)


def tag_entities(t: NerTagger, text: str) -> list[tuple[str, str]]:
    """Return ``[(type, entity text), ...]`` for one text, in text order (see token_tags)."""
    from tasks.ner.span_f1 import spans

    sentences, tags = token_tags(t, text)
    return [(etype, " ".join(s.tokens[start:end])) for s, sentence_tags in zip(sentences, tags)
            for _, start, end, etype in spans(sentence_tags)]


def format_entities(entities: list[tuple[str, str]]) -> str:
    return "\n".join(f"{etype}\t{words}" for etype, words in entities) or "(no entities found)"
