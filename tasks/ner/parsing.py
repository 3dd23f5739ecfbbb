"""spaCy dependency parses of pre-tokenised sentences, and the flat per-split arrays
that preparation writes and inference builds for one sentence."""
from __future__ import annotations

import numpy as np

from tasks.common.files import DataError
from tasks.ner.conll import Sentence
from tasks.ner.features import UNK, casing, char_ids, word_key


def load_parser(model: str):
    import spacy

    try:
        # Only the parser (and the tok2vec it listens to) is needed: spaCy's own NER
        # must not leak into our features.
        nlp = spacy.load(model, exclude=["ner", "lemmatizer", "attribute_ruler", "senter"])
    except OSError as err:
        raise DataError(model, None, f"spaCy pipeline not installed (ner.spacy.model): {err}") from None
    for name in list(nlp.pipe_names):
        if name not in {"tok2vec", "parser"}:
            nlp.disable_pipe(name)
    return nlp


def parse(sentences: list[Sentence], nlp, batch_size: int, desc: str) -> list[tuple[np.ndarray, list[str]]]:
    """Parse the given tokens (no re-tokenisation); return (heads, labels) per sentence."""
    from spacy.tokens import Doc
    from tqdm import tqdm

    docs = (Doc(nlp.vocab, words=list(s.tokens)) for s in sentences)
    out = []
    for doc in tqdm(nlp.pipe(docs, batch_size=batch_size), total=len(sentences), desc=f"parse {desc}", unit="sent",
                    mininterval=2, disable=len(sentences) < 100):
        heads = np.fromiter((t.head.i for t in doc), np.int32, len(doc))
        out.append((heads, [t.dep_ for t in doc]))
    return out


def split_arrays(sentences: list[Sentence], parses, index: dict[str, dict[str, int]]) -> dict[str, np.ndarray]:
    """Flat arrays of one split: ``sent_len`` and ``doc`` per sentence; per token ``word``, ``casing``,
    ``label``, ``head`` (index inside the sentence; ROOT points at itself), ``rel``,
    ``char_len`` and the flat ``chars``; ``tokens`` as a unicode array."""
    tokens = [t for s in sentences for t in s.tokens]
    chars, char_len = char_ids(tokens, index["chars"])
    rel_ids = index["relations"]
    return {
        "sent_len": np.asarray([len(s.tokens) for s in sentences], np.int32),
        "doc": np.asarray([s.doc for s in sentences], np.int32),
        "tokens": np.asarray(tokens, dtype=str),
        "word": np.asarray([index["words"].get(word_key(t, index["words"]), UNK) for t in tokens], np.int32),
        "casing": np.asarray([casing(t) for t in tokens], np.int8),
        "label": np.asarray([index["labels"][tag] for s in sentences for tag in s.tags], np.int8),
        "head": np.concatenate([h for h, _ in parses]).astype(np.int32),
        "rel": np.asarray([rel_ids.get(lab, rel_ids["dep"]) for _, labs in parses for lab in labs], np.int16),
        "chars": chars,
        "char_len": char_len,
    }


def vocab_index(vocab: dict) -> dict[str, dict[str, int]]:
    """vocab.json's lists as lookups (``words``, ``chars``, ``labels``, ``relations``)."""
    return {key: {v: i for i, v in enumerate(vocab[key])} for key in ("words", "chars", "labels", "relations")}
