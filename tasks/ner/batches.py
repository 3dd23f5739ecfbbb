"""Prepared NER arrays -> padded, length-bucketed batches (shared by training,
evaluation and the speed benchmark)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from tasks.common.files import read_json

# Sentence lengths are padded up to the next rung of a fixed ladder (then to multiples of
# 64), so a whole training run uses a handful of batch shapes: JAX (and tf.function)
# compile one program per shape, and padding each batch only to a multiple of 8 gave
# CoNLL-2003 about twice as many. The rungs grow by at most 1.5x, so padding wastes at
# most a third of a long batch; most batches are short and stay on the fine rungs.
LENGTH_LADDER = (8, 16, 24, 32, 48, 64, 96, 128)
PAD_TO = 8  # the old policy (multiples of 8), kept for the before/after benchmark


def padded_length(n: int, ladder: tuple[int, ...] | None = LENGTH_LADDER) -> int:
    """The padded length of a batch whose longest sentence has ``n`` tokens; ``ladder``
    None pads to a multiple of :data:`PAD_TO` instead."""
    if ladder is None:
        return _round_up(n, PAD_TO)
    return next((rung for rung in ladder if rung >= n), _round_up(n, 64))


@dataclass
class NerSplit:
    tokens: list[list[str]]
    word: list[np.ndarray]
    casing: list[np.ndarray]
    label: list[np.ndarray]
    head: list[np.ndarray]
    rel: list[np.ndarray]
    chars: list[list[np.ndarray]]

    def __len__(self) -> int:
        return len(self.word)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(w) for w in self.word), np.int64, len(self.word))


def load_split(path: Path | str) -> NerSplit:
    with np.load(path, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    cuts = np.cumsum(a["sent_len"])[:-1]
    char_cuts = np.cumsum(a["char_len"])[:-1]
    token_chars = np.split(a["chars"], char_cuts)
    split = lambda key: np.split(a[key], cuts)  # noqa: E731
    starts = np.concatenate([[0], np.cumsum(a["sent_len"])])
    return NerSplit(
        tokens=[list(t) for t in np.split(a["tokens"], cuts)],
        word=split("word"), casing=split("casing"), label=split("label"), head=split("head"), rel=split("rel"),
        chars=[token_chars[starts[i]:starts[i + 1]] for i in range(len(a["sent_len"]))],
    )


def load_vocab(prepared: Path | str) -> dict:
    return read_json(Path(prepared) / "vocab.json")


def _round_up(x: int, m: int) -> int:
    return max(m, -(-x // m) * m)


def make_batch(split: NerSplit, idx: np.ndarray, max_word_length: int,
               ladder: tuple[int, ...] | None = LENGTH_LADDER) -> tuple[dict, np.ndarray, np.ndarray]:
    """Pad sentences ``idx``; returns (inputs, labels, mask as float weights)."""
    lengths = [len(split.word[i]) for i in idx]
    n = padded_length(max(lengths), ladder)
    c = max_word_length  # fixed: Keras' dataset adapter fixes every dim but batch and length
    B = len(idx)
    x = {k: np.zeros((B, n), np.int32) for k in ("words", "casing", "heads", "rels")}
    x["chars"] = np.zeros((B, n, c), np.int32)
    y = np.zeros((B, n), np.int32)
    for row, i in enumerate(idx):
        L = lengths[row]
        x["words"][row, :L] = split.word[i]
        x["casing"][row, :L] = split.casing[i]
        x["heads"][row, :L] = split.head[i]
        x["rels"][row, :L] = split.rel[i]
        y[row, :L] = split.label[i]
        for t, ch in enumerate(split.chars[i]):
            ch = ch[:max_word_length]
            x["chars"][row, t, :len(ch)] = ch
    weights = (np.arange(n)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)
    return x, y, weights


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None,
                     ladder: tuple[int, ...] | None = LENGTH_LADDER) -> list[np.ndarray]:
    """Group sentences of similar length; with ``rng``, a fresh grouping and order per call."""
    if rng is None:
        order = np.argsort(lengths, kind="stable")
    else:
        # Sort by length with random tie-breaking, so buckets differ between epochs.
        order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
        _distinct_first_lengths(batches, lengths, ladder)
    return batches


def _distinct_first_lengths(batches: list[np.ndarray], lengths: np.ndarray, ladder) -> None:
    """Keras builds the input signature of a PyDataset from its first two batches and
    fixes every dimension on which they agree: when both pad to one length, every later
    length is refused. Move the first batch of another padded length to position 1."""
    padded = [padded_length(int(lengths[b].max()), ladder) for b in batches]
    if len(batches) > 2 and padded[0] == padded[1]:
        other = next((j for j in range(2, len(batches)) if padded[j] != padded[0]), None)
        if other is not None:
            batches[1], batches[other] = batches[other], batches[1]


class BatchSequence(keras.utils.PyDataset):
    """Bucketed batches for ``model.fit``; reshuffled per epoch from ``seed + epoch``."""

    def __init__(self, split: NerSplit, batch_size: int, max_word_length: int, seed: int | None,
                 with_labels: bool = True, epoch: int = 0, ladder: tuple[int, ...] | None = LENGTH_LADDER):
        super().__init__()
        self.split, self.batch_size, self.max_word_length = split, batch_size, max_word_length
        self.seed, self.with_labels, self.epoch, self.ladder = seed, with_labels, epoch, ladder
        self._reshuffle()

    def _reshuffle(self) -> None:
        rng = None if self.seed is None else np.random.default_rng(self.seed + self.epoch)
        self.batches = bucketed_batches(self.split.lengths, self.batch_size, rng, self.ladder)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        x, y, w = make_batch(self.split, self.batches[i], self.max_word_length, self.ladder)
        return (x, y, w) if self.with_labels else (x,)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._reshuffle()
