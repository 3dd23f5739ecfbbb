"""CoNLL files -> parsed, indexed arrays (no pickle), written as one directory:
``<split>.npz`` (see parsing.split_arrays), ``vocab.json``, ``embeddings.npy`` (row i =
word i) and ``stats.json``."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from tasks.common.files import DataError, atomic_path
from tasks.common.params import NerParams
from tasks.common.vectors import load_vectors
from tasks.ner.conll import Sentence, label_vocabulary, read_conll
from tasks.ner.features import PAD, UNK, word_key
from tasks.ner.parsing import load_parser, parse, split_arrays, vocab_index

SPLITS = ("train", "dev", "test")


def build_vocab(splits: dict[str, list[Sentence]], vectors: dict[str, np.ndarray]) -> tuple[list[str], list[str]]:
    """Words: every training word, plus dev/test words that have a pretrained vector
    (their vectors come from the embeddings, never from dev/test labels). Chars: train."""
    words = Counter(word_key(t, vectors) for s in splits["train"] for t in s.tokens)
    for name in ("dev", "test"):
        words.update(k for s in splits[name] for t in s.tokens if (k := word_key(t, vectors)) in vectors)
    chars = Counter(ch for s in splits["train"] for t in s.tokens for ch in t)
    return ["<pad>", "<unk>"] + sorted(words), ["<pad>", "<unk>"] + sorted(chars)


def embedding_matrix(words: list[str], vectors: dict[str, np.ndarray], seed: int) -> tuple[np.ndarray, int]:
    dim = len(next(iter(vectors.values())))
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, 0.1, (len(words), dim)).astype(np.float32)
    matrix[PAD] = matrix[UNK] = 0.0
    found = 0
    for i, w in enumerate(words[2:], start=2):
        if w in vectors:
            matrix[i] = vectors[w]
            found += 1
    return matrix, found


def prepare(params: NerParams, out_dir: Path) -> dict:
    """Read, parse, index; write everything under ``out_dir`` (atomically). Returns stats."""
    d = params.data
    splits = {name: read_conll(Path(d.dir) / getattr(d, name), d.entity_types, d.max_sentences) for name in SPLITS}
    candidates = {word_key(t, ()).lower() for ss in splits.values() for s in ss for t in s.tokens}
    candidates |= {t.lower() for ss in splits.values() for s in ss for t in s.tokens}
    vectors = load_vectors(params.embeddings.source, keep=candidates)
    if not vectors:
        raise DataError(params.embeddings.source, None, "no pretrained vector matches any word of the data")
    words, chars = build_vocab(splits, vectors)
    nlp = load_parser(params.spacy.model)
    relations = list(nlp.get_pipe("parser").labels)
    vocab = {"words": words, "chars": chars, "labels": label_vocabulary(d.entity_types), "relations": relations,
             "casings": 8}
    index = vocab_index(vocab)
    matrix, found = embedding_matrix(words, vectors, seed=0)
    stats: dict = {"vocabulary": len(words), "with_vector": found, "relations": len(relations)}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for name, sentences in splits.items():
            arrays = split_arrays(sentences, parse(sentences, nlp, params.spacy.batch_size, name), index)
            np.savez_compressed(tmp / f"{name}.npz", **arrays)
            n_entities = sum(t.startswith("B-") for s in sentences for t in s.tags)
            unk = float(np.mean(arrays["word"] == UNK))
            stats[name] = {"sentences": len(sentences), "tokens": int(arrays["word"].size), "entities": n_entities,
                           "unk_rate": unk}
            print(f"{name}: {len(sentences)} sentences, {arrays['word'].size} tokens, {n_entities} entities, "
                  f"unk {unk:.2%}", flush=True)
        np.save(tmp / "embeddings.npy", matrix)
        (tmp / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        (tmp / "stats.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
    return stats
