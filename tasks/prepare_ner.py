"""Stage prepare_ner: CoNLL files -> parsed, indexed arrays (no pickle).

For each split writes ``<split>.npz`` with ragged arrays in flat form:
``sent_len`` (sentences), per token ``word``, ``casing``, ``label``, ``head`` (index of
the dependency head inside the sentence; ROOT points at itself), ``rel`` (dependency
label id), ``char_len`` and flat ``chars``; ``tokens`` as a unicode array. Beside them:
``vocab.json``, ``embeddings.npy`` (row i = word i) and ``stats.json``.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from tasks.conll import Sentence, label_vocabulary, read_conll
from tasks.io import DataError, atomic_path, run_main
from tasks.ner_features import PAD, UNK, casing, char_ids, word_key
from tasks.params import NerParams, load_params

OUT_DIR = Path("data/prepared/ner")
SPLITS = ("train", "dev", "test")


def load_parser(model: str):
    import spacy

    try:
        # Only the parser (and the tok2vec it listens to) is needed: spaCy's own NER
        # must not leak into our features.
        nlp = spacy.load(model, exclude=["ner", "lemmatizer", "attribute_ruler", "senter"])
    except OSError as err:
        raise DataError(model, None, f"spaCy pipeline not installed (ner.spacy.model): {err}") from None
    keep = {"tok2vec", "parser"}
    for name in list(nlp.pipe_names):
        if name not in keep:
            nlp.disable_pipe(name)
    return nlp


def parse(sentences: list[Sentence], nlp, batch_size: int, desc: str) -> list[tuple[np.ndarray, list[str]]]:
    """Parse the given tokens (no re-tokenisation); return (heads, labels) per sentence."""
    from spacy.tokens import Doc
    from tqdm import tqdm

    docs = (Doc(nlp.vocab, words=list(s.tokens)) for s in sentences)
    out = []
    for doc in tqdm(nlp.pipe(docs, batch_size=batch_size), total=len(sentences), desc=f"parse {desc}", unit="sent", mininterval=2):
        heads = np.fromiter((t.head.i for t in doc), np.int32, len(doc))
        out.append((heads, [t.dep_ for t in doc]))
    return out


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


def split_arrays(sentences: list[Sentence], parses, index: dict[str, dict[str, int]]) -> dict[str, np.ndarray]:
    tokens = [t for s in sentences for t in s.tokens]
    chars, char_len = char_ids(tokens, index["chars"])
    rel_ids = index["relations"]
    return {
        "sent_len": np.asarray([len(s.tokens) for s in sentences], np.int32),
        "tokens": np.asarray(tokens, dtype=str),
        "word": np.asarray([index["words"].get(word_key(t, index["words"]), UNK) for t in tokens], np.int32),
        "casing": np.asarray([casing(t) for t in tokens], np.int8),
        "label": np.asarray([index["labels"][tag] for s in sentences for tag in s.tags], np.int8),
        "head": np.concatenate([h for h, _ in parses]).astype(np.int32),
        "rel": np.asarray([rel_ids.get(lab, rel_ids["dep"]) for _, labs in parses for lab in labs], np.int16),
        "chars": chars,
        "char_len": char_len,
    }


def prepare(params: NerParams, out_dir: Path = OUT_DIR) -> dict:
    """Pure stage function: read, parse, index; write everything under ``out_dir``."""
    from tasks.embeddings import load_vectors

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
    index = {
        "words": {w: i for i, w in enumerate(words)},
        "chars": {c: i for i, c in enumerate(chars)},
        "labels": {t: i for i, t in enumerate(label_vocabulary(d.entity_types))},
        "relations": {r: i for i, r in enumerate(relations)},
    }
    matrix, found = embedding_matrix(words, vectors, seed=0)
    stats: dict = {"vocabulary": len(words), "with_vector": found, "relations": len(relations)}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for name, sentences in splits.items():
            arrays = split_arrays(sentences, parse(sentences, nlp, params.spacy.batch_size, name), index)
            np.savez_compressed(tmp / f"{name}.npz", **arrays)
            n_entities = sum(t.startswith("B-") for s in sentences for t in s.tags)
            unk = float(np.mean(arrays["word"] == UNK))
            stats[name] = {"sentences": len(sentences), "tokens": int(arrays["word"].size), "entities": n_entities, "unk_rate": unk}
            print(f"{name}: {len(sentences)} sentences, {arrays['word'].size} tokens, {n_entities} entities, unk {unk:.2%}")
        np.save(tmp / "embeddings.npy", matrix)
        vocab = {"words": words, "chars": chars, "labels": list(index["labels"]), "relations": relations, "casings": 8}
        (tmp / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        (tmp / "stats.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
    return stats


def main() -> None:
    from tasks.params import flatten
    from tasks.tracking import log_metrics_tree, stage_run

    params = load_params()
    ner = params.ner
    sub = {"ner": {k: getattr(ner, k).model_dump() for k in ("data", "spacy", "embeddings")}}
    with stage_run("prepare_ner", "ner", flatten(sub)) as mlflow:
        stats = prepare(ner)
        log_metrics_tree(mlflow, stats, prefix="data.")
        mlflow.log_artifact(str(OUT_DIR / "stats.json"))


if __name__ == "__main__":
    run_main(main)
