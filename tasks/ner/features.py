"""Token features shared by preparation (vocabularies, arrays) and inference."""
from __future__ import annotations

import re

import numpy as np

PAD, UNK = 0, 1
CASINGS = ["<pad>", "numeric", "mostly_numeric", "contains_digit", "all_lower", "all_upper", "initial_upper", "other"]
_DIGIT = re.compile(r"\d")


def casing(token: str) -> int:
    digits = sum(ch.isdigit() for ch in token)
    if token.isdigit():
        return 1
    if digits / max(len(token), 1) > 0.5:
        return 2
    if digits:
        return 3
    if token.islower():
        return 4
    if token.isupper():
        return 5
    if token[0].isupper():
        return 6
    return 7


def word_key(token: str, known: set[str] | dict) -> str:
    """Lower-case (the vectors are lower-cased); unseen numbers collapse to a digit shape."""
    low = token.lower()
    return low if low in known else _DIGIT.sub("0", low)


def char_ids(tokens: list[str] | tuple[str, ...], char_index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Flat char ids and per-token offsets (ragged layout, no pickle needed)."""
    ids = [char_index.get(ch, UNK) for tok in tokens for ch in tok]
    lengths = [len(tok) for tok in tokens]
    return np.asarray(ids, np.int32), np.asarray(lengths, np.int32)


def mention_key(token: str, stop_words: frozenset[str] | set[str]) -> str | None:
    """What links a token to its repeats elsewhere in the document (the document graph's
    edges), or None when it links to nothing: a capitalised word (``Clinton``, also
    ``CLINTON`` in a headline) that is not a stop word (``The``, ``He`` open sentences),
    compared lower-cased. Entities are capitalised in CoNLL-2003; a lower-case repeat
    (``said``) says nothing about one, and linking it would only add edges."""
    if len(token) < 2 or not token[0].isupper() or not any(ch.isalpha() for ch in token):
        return None
    low = token.lower()
    return None if low in stop_words else low
