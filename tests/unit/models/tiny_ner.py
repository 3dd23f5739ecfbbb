"""Tiny random NER batches for the model tests (random words, casings, trees, labels)."""
import numpy as np

from tasks.ner.batches import NerSplit


WORDS = ["Paris", "Anna", "the", "said", "Bonn", "IBM"]  # capitalised ones link across sentences


def tiny_split(rng, count=10):
    """``count`` random sentences, four to a document."""
    lens = rng.integers(1, 12, count)
    return NerSplit(
        tokens=[[WORDS[k] for k in rng.integers(0, len(WORDS), n)] for n in lens],
        word=[rng.integers(2, 30, n).astype(np.int32) for n in lens],
        casing=[rng.integers(1, 8, n).astype(np.int8) for n in lens],
        label=[rng.integers(0, 9, n).astype(np.int8) for n in lens],
        head=[rng.integers(0, n, n).astype(np.int32) for n in lens],
        rel=[rng.integers(0, 45, n).astype(np.int16) for n in lens],
        chars=[[rng.integers(1, 20, rng.integers(1, 30)).astype(np.int32) for _ in range(n)] for n in lens],
        doc=np.arange(count, dtype=np.int32) // 4,
    )


LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


def legal_labels(split):
    """Gold tags that obey IOB2 (the CRF's hard constraints forbid the others)."""
    for i, sent in enumerate(split.label):
        split.label[i] = np.where(sent % 2 == 0, 0, sent).astype(np.int8)  # B-* and O only
    return split
