"""Stage embed_text: the text baseline features.

tfidf-glove (default): the TF-IDF-weighted mean of GloVe vectors of an article's words
(words without a vector are skipped), L2-normalised. precomputed: the Medium embeddings
CSV read by import_articles. Another encoder plugs in as one more function in ENCODERS.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from tasks.import_articles import OUT_DIR as ARTICLES
from tasks.io import DataError, run_main, save_npy
from tasks.params import TagsParams, load_params

OUT = Path("data/prepared/tags/text_embeddings.npy")


def tfidf_glove(texts: list[str], params: TagsParams) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from tasks.embeddings import load_vectors

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
    weight = np.asarray(X @ has).ravel()
    emb = np.asarray(X @ G) / np.maximum(weight, 1e-12)[:, None]
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    print(f"{int((weight == 0).sum())} articles have no word with a vector (zero embedding); "
          f"vocabulary coverage {int(has.sum())}/{len(words)}")
    return (emb / np.maximum(norms, 1e-12)).astype(np.float32)


def precomputed(texts: list[str], params: TagsParams) -> np.ndarray:
    path = ARTICLES / "precomputed_embeddings.npy"
    if not path.is_file():
        raise DataError(path, None, "no precomputed embeddings (set tags.data.medium_embeddings)")
    return np.load(path)


ENCODERS: dict[str, Callable[[list[str], TagsParams], np.ndarray]] = {
    "tfidf-glove": tfidf_glove, "precomputed": precomputed}


def embed(params: TagsParams, out: Path = OUT) -> np.ndarray:
    articles = pd.read_parquet(ARTICLES / "articles.parquet")
    emb = ENCODERS[params.text.encoder](articles["text"].fillna("").tolist(), params)
    save_npy(out, emb)
    print(f"text embeddings {emb.shape}")
    return emb


def main() -> None:
    from tasks.params import flatten
    from tasks.tracking import stage_run

    params = load_params().tags
    with stage_run("embed_text", "tags", flatten({"tags": {"text": params.text.model_dump()}})) as mlflow:
        emb = embed(params)
        mlflow.log_metrics({"articles": emb.shape[0], "dimension": emb.shape[1]})


if __name__ == "__main__":
    run_main(main)
