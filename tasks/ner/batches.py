"""Prepared NER arrays -> padded batches (shared by training, evaluation, inference and
the speed benchmark): length-bucketed sentences, or windows of whole documents that carry
the document graph's edges.

Document batches: each document is cut into windows of at most ``batch_size`` consecutive
sentences (CoNLL-2003 train: median 11 sentences per document, 197 at most), and windows
of similar longest sentence are packed into one batch (padded to a multiple of 8 rows).
A token's document edges link it to
the nearest repeats of its mention key (features.mention_key) in its own window, at most
``doc_neighbours`` of them (half before it, half after), so a batch holds at most
``batch_size * n * doc_neighbours`` extra edges: memory and time stay bounded by the
batch, whatever the document's length. No edge crosses a document boundary.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from models.graph_conv import compact_graph, graph_edges, pad_edges, pad_nodes
from tasks.common.files import read_json
from tasks.ner.features import UNK

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
    # Filled in by __post_init__ when not given: each sentence its own document, and the
    # mention key ids (-1: none) of the tokens.
    doc: np.ndarray | None = None                     # per sentence: its document's id
    mention: list[np.ndarray] | None = None           # per token: its mention key's id, -1 none

    def __post_init__(self):
        if self.doc is None:
            self.doc = np.arange(len(self.word), dtype=np.int32)
        if self.mention is None:
            self.mention = mention_ids(self.tokens)

    def __len__(self) -> int:
        return len(self.word)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(w) for w in self.word), np.int64, len(self.word))


def mention_ids(tokens: list[list[str]]) -> list[np.ndarray]:
    """Per sentence, each token's mention key as an id shared by equal keys (-1: none)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    from tasks.ner.features import mention_key

    ids: dict[str, int] = {}
    out = []
    for sentence in tokens:
        keys = (mention_key(str(t), STOP_WORDS) for t in sentence)
        out.append(np.fromiter((-1 if k is None else ids.setdefault(k, len(ids)) for k in keys), np.int32,
                               len(sentence)))
    return out


def load_split(path: Path | str) -> NerSplit:
    """A prepared ``<split>.npz`` (tasks.ner.parsing.split_arrays) as a NerSplit."""
    with np.load(path, allow_pickle=False) as z:
        return split_from_arrays({k: z[k] for k in z.files})


def split_from_arrays(a: dict[str, np.ndarray]) -> NerSplit:
    """The flat arrays of tasks.ner.parsing.split_arrays, cut into sentences."""
    cuts = np.cumsum(a["sent_len"])[:-1]
    char_cuts = np.cumsum(a["char_len"])[:-1]
    token_chars = np.split(a["chars"], char_cuts)
    split = lambda key: np.split(a[key], cuts)  # noqa: E731
    starts = np.concatenate([[0], np.cumsum(a["sent_len"])])
    return NerSplit(
        tokens=[list(t) for t in np.split(a["tokens"], cuts)],
        word=split("word"), casing=split("casing"), label=split("label"), head=split("head"), rel=split("rel"),
        chars=[token_chars[starts[i]:starts[i + 1]] for i in range(len(a["sent_len"]))],
        doc=a.get("doc"),
    )


def load_vocab(prepared: Path | str) -> dict:
    return read_json(Path(prepared) / "vocab.json")


def _round_up(x: int, m: int) -> int:
    return max(m, -(-x // m) * m)


def document_edges(split: NerSplit, idx: np.ndarray, n: int, k: int) -> np.ndarray:
    """(B, n, k) int32: for each token of the batch of sentences ``idx`` padded to ``n``,
    the flat positions (row * n + token) of the nearest tokens with its mention key in
    *other* sentences of its document in the batch (a repeat in the same sentence is the
    BiLSTM's to see): at most ``k - k // 2`` before it and ``k // 2`` after it in batch
    order; -1 fills the rest. ``idx`` in document order makes batch order document order
    (document_batches sorts each batch so)."""
    src = np.full((len(idx), n, k), -1, np.int32)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for row, i in enumerate(idx):
        for t in np.flatnonzero(split.mention[i] >= 0):
            groups[(int(split.doc[i]), int(split.mention[i][t]))].append(row * n + int(t))
    before, after = k - k // 2, k // 2
    for flat in groups.values():  # appended in batch order: already sorted
        if len({f // n for f in flat}) < 2:
            continue  # every repeat in one sentence
        for j, f in enumerate(flat):
            earlier = [g for g in flat[:j] if g // n != f // n]
            later = [g for g in flat[j + 1:] if g // n != f // n]
            near = earlier[max(0, len(earlier) - before):] + later[:after]
            src[f // n, f % n, :len(near)] = near
    return src


ROWS_TO = 8  # document batches pad their sentence count to a multiple of this


def padded_rows(count: int) -> int:
    """The rows of a document batch of ``count`` sentences: the next multiple of
    :data:`ROWS_TO`, so a run sees at most batch_size / 8 row counts per padded length."""
    return _round_up(count, ROWS_TO)


def make_batch(split: NerSplit, idx: np.ndarray, max_word_length: int,
               ladder: tuple[int, ...] | None = LENGTH_LADDER, doc_neighbours: int = 0,
               rows: int = 0) -> tuple[dict, np.ndarray, np.ndarray]:
    """Pad sentences ``idx``; returns (inputs, labels, mask as float weights). The
    inputs carry the batch's graph as ``edges`` between its real tokens, whose flat
    positions ``nodes`` lists (models.graph_conv.graph_edges, compact_graph), with the
    document edges when ``doc_neighbours`` > 0. ``rows`` >
    len(idx) adds empty rows (no token: masked everywhere, weight 0), so batches of
    packed document windows, whose sentence counts vary, share a few batch sizes
    (:func:`padded_rows`): each new (rows, length) shape costs a trace (TensorFlow) or a
    compile (JAX), and one per sentence count made an epoch 1.3x slower."""
    lengths = [len(split.word[i]) for i in idx]
    n = padded_length(max(lengths), ladder)
    c = max_word_length  # fixed: Keras' dataset adapter fixes every dim but batch and length
    B = max(len(idx), rows)
    x = {k: np.zeros((B, n), np.int32) for k in ("words", "casing")}
    x["chars"] = np.zeros((B, n, c), np.int32)
    heads, rels = np.zeros((B, n), np.int32), np.zeros((B, n), np.int32)
    y = np.zeros((B, n), np.int32)
    for row, i in enumerate(idx):
        L = lengths[row]
        x["words"][row, :L] = split.word[i]
        x["casing"][row, :L] = split.casing[i]
        heads[row, :L] = split.head[i]
        rels[row, :L] = split.rel[i]
        y[row, :L] = split.label[i]
        for t, ch in enumerate(split.chars[i]):
            ch = ch[:max_word_length]
            x["chars"][row, t, :len(ch)] = ch
    doc_src = document_edges(split, idx, n, doc_neighbours) if doc_neighbours else None
    lengths += [0] * (B - len(idx))
    weights = (np.arange(n)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)
    edges, nodes = compact_graph(graph_edges(heads, rels, lengths, doc_src), weights > 0)
    x["edges"] = pad_edges(edges, padded_edge_count(len(edges)))
    x["nodes"] = pad_nodes(nodes, padded_node_count(len(nodes), len(x["edges"]), B))
    return x, y, weights


def padded_edge_count(count: int) -> int:
    """Edge lists are padded to the next power of two (at least 64) rows: JAX compiles
    one program per input shape, and the document-level default with a finer ladder
    (steps of 1.19x) compiled so many that LLVM ran out of memory in its second epoch on
    the 2-core machine. Padding rows weigh exactly 0: they change no message, only, at
    most, the order of a float sum (tests/unit/models/test_graph_conv.py)."""
    return max(64, 1 << (int(count) - 1).bit_length())


def padded_node_count(count: int, edge_rows: int, rows: int) -> int:
    """The length of a batch's ``nodes`` list: a size fixed by its padded edge list and its
    rows, so that it adds no input shape (JAX compiles one program per shape, and a size
    of its own made an epoch's shapes 1.5x as many: LLVM ran out of memory compiling
    them). Every token has at least five edges, less two per sentence (graph_edges), so
    ``count <= (edge_rows + 2 * rows) // 5``."""
    return max(count, (edge_rows + 2 * rows) // 5)


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


def document_batches(split: NerSplit, batch_size: int, rng: np.random.Generator | None,
                     ladder: tuple[int, ...] | None = LENGTH_LADDER) -> list[np.ndarray]:
    """Windows of at most ``batch_size`` consecutive sentences of one document, packed
    into batches of at most ``batch_size`` sentences by their longest sentence (so a
    batch pads little), each batch in document order. With ``rng``: random tie-breaks and
    batch order per call; the windows themselves never change."""
    starts = np.flatnonzero(np.diff(split.doc, prepend=split.doc[:1] - 1))
    windows = [w for a, b in zip(starts, list(starts[1:]) + [len(split)])
               for w in np.array_split(np.arange(a, b), -(-(b - a) // batch_size))]
    longest = np.asarray([split.lengths[w].max() for w in windows])
    ties = np.zeros(len(windows)) if rng is None else rng.random(len(windows))
    batches, current = [], []
    for w in np.lexsort((ties, longest)):
        if current and sum(map(len, current)) + len(windows[w]) > batch_size:
            batches.append(np.sort(np.concatenate(current)))
            current = []
        current.append(windows[w])
    batches.append(np.sort(np.concatenate(current)))
    if rng is not None:
        rng.shuffle(batches)
        _distinct_first_lengths(batches, split.lengths, ladder)
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


def batch_indices(split: NerSplit, batch_size: int, rng: np.random.Generator | None, documents: bool,
                  ladder: tuple[int, ...] | None = LENGTH_LADDER) -> list[np.ndarray]:
    """Document windows (``documents``) or length buckets."""
    if documents:
        return document_batches(split, batch_size, rng, ladder)
    return bucketed_batches(split.lengths, batch_size, rng, ladder)


def singleton_words(split: NerSplit) -> np.ndarray:
    """The word ids that occur exactly once in ``split``."""
    counts = np.bincount(np.concatenate(split.word))
    return np.flatnonzero(counts == 1)


def drop_words(words: np.ndarray, droppable: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """``words`` with each id in ``droppable`` replaced by UNK with chance ``rate``
    (word dropout). Without it no training token is UNK (the vocabulary holds every
    training word), so the UNK vector, which every unseen dev/test word gets, would never
    be trained."""
    hit = np.isin(words, droppable) & (rng.random(words.shape) < rate)
    return np.where(hit, UNK, words).astype(words.dtype)


class BatchSequence(keras.utils.PyDataset):
    """One epoch's batches for ``model.fit`` (see :func:`batch_indices`), shuffled from
    ``seed + epoch``; training builds one per epoch (tasks/ner/training.py:fit). A fit
    over several epochs repeats the same batches: Keras fixes an epoch's step count when
    fit starts, and reshuffled document batches vary in number, so reshuffling inside one
    fit would drop batches. ``doc_neighbours`` > 0 adds the document edges (``doc_src``).
    ``word_dropout`` > 0 replaces the split's singletons by UNK with that chance, drawn
    per (seed, epoch, batch), so a batch is the same whichever worker builds it.

    Two worker threads build the batches (Keras's ordered enqueuer: same batches, same
    order). With Keras's default single worker, TensorFlow feeds ``fit`` through a
    ``prefetch(AUTOTUNE)`` dataset whose autotuning thread sleeps on a timed wait; the end
    of each ``fit`` call waits for it to wake, and train_ner, one ``fit`` per epoch, lost
    about 6 of its 20 minutes so, both cores idle (benchmarks/fit_teardown.py). With
    workers > 1 Keras turns autotuning off."""

    WORKERS = 2  # the default; ``workers=1`` gives Keras's own feeding (benchmarks/ner_fit_calls.py compares)

    def __init__(self, split: NerSplit, batch_size: int, max_word_length: int, seed: int | None,
                 with_labels: bool = True, epoch: int = 0, ladder: tuple[int, ...] | None = LENGTH_LADDER,
                 documents: bool = False, doc_neighbours: int = 0, word_dropout: float = 0.0,
                 workers: int = WORKERS):
        super().__init__(workers=workers)
        self.split, self.batch_size, self.max_word_length = split, batch_size, max_word_length
        self.seed, self.with_labels, self.epoch, self.ladder = seed, with_labels, epoch, ladder
        self.documents, self.doc_neighbours, self.word_dropout = documents, doc_neighbours, word_dropout
        if word_dropout and seed is None:
            raise ValueError("word_dropout needs a seed (it is for training batches)")
        self.singletons = singleton_words(split) if word_dropout else None
        rng = None if seed is None else np.random.default_rng(seed + epoch)
        self.batches = batch_indices(split, batch_size, rng, documents, ladder)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        x, y, w = make_batch(self.split, self.batches[i], self.max_word_length, self.ladder, self.doc_neighbours,
                             rows=padded_rows(len(self.batches[i])) if self.documents else 0)
        if self.word_dropout:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            x["words"] = drop_words(x["words"], self.singletons, self.word_dropout, rng)
        return (x, y, w) if self.with_labels else (x,)
