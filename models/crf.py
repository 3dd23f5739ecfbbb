"""Linear-chain CRF over per-token tag scores, in pure keras.ops (any backend).

A tagger's softmax picks each token's tag on its own, so it can emit ``O I-PER`` or split
one name into two types. A CRF scores whole tag sequences instead:

    score(y) = start[y_0] + sum_t emissions[t, y_t] + sum_t>0 transitions[y_t-1, y_t] + end[y_last]
    log p(y | x) = score(y) - log Z,   log Z = logsumexp over every sequence y'

log Z comes from the forward algorithm (a scan over time with log-sum-exp), the best
sequence from Viterbi (a scan with max/argmax, then a reverse scan over backpointers).

Masks are left-aligned (ones, then padding zeros): a padded step leaves the
forward/Viterbi state unchanged, so ``end`` is added at each sequence's own last token.
An empty row (length 0, batch padding) gets a finite, meaningless score: callers weight
it out (models.ner.CrfTagger).

Hard constraints (``allowed``, e.g. from :func:`tag_constraints`) add a large negative
score to forbidden transitions, starts and ends, so no decoded sequence uses them.

The layer and the two algorithms are checked against brute-force enumeration
(tests/unit/models/test_crf.py); models/ner.py puts the layer on top of the tagger
(``output: crf``) and trains it with :class:`models.ner.CrfTagger`.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

FORBIDDEN = -1e4  # added to a forbidden transition's score: exp(-1e4) underflows to 0


def tag_constraints(labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(allowed transitions (T, T), allowed starts (T,), allowed ends (T,)) for IOB2 or
    IOBES labels. IOB2: ``I-X`` only after ``B-X`` or ``I-X``, never first. IOBES also:
    after ``B-X``/``I-X`` only ``I-X``/``E-X``, ``E-X``/``S-X`` close a chunk, and a
    sentence never ends inside one."""
    T = len(labels)
    iobes = any(t[:2] in ("E-", "S-") for t in labels)
    inside = lambda t: t[:2] in (("I-", "E-") if iobes else ("I-",))  # noqa: E731  (continues a chunk)
    open_ = lambda t: iobes and t[:2] in ("B-", "I-")  # noqa: E731  (must be continued)
    allowed = np.ones((T, T), bool)
    for i, frm in enumerate(labels):
        for j, to in enumerate(labels):
            if inside(to):
                allowed[i, j] = frm[2:] == to[2:] and frm[:2] in ("B-", "I-")
            elif open_(frm):
                allowed[i, j] = False
    start = np.array([not inside(t) for t in labels])
    end = np.array([not open_(t) for t in labels])
    return allowed, start, end


def _time_major(emissions, mask):
    """(n, B, T + 1): the scores, time first, with the mask as the last channel. One
    scanned tensor rather than two: Keras' TensorFlow scan fails on several inputs whose
    time length is unknown when traced (the usual case in ``fit``)."""
    m = ops.cast(mask, emissions.dtype)[..., None]
    return ops.transpose(ops.concatenate([emissions, m], axis=-1), (1, 0, 2))


def _split(x_t):
    return x_t[:, :-1], x_t[:, -1]


def sequence_score(emissions, tags, mask, transitions, start, end):
    """score(y) of the given ``tags`` (B, n) per sequence: (B,)."""
    num_tags = ops.shape(emissions)[-1]
    m = ops.cast(mask, emissions.dtype)
    tags = ops.cast(tags, "int32")
    unary = ops.sum(ops.take_along_axis(emissions, tags[..., None], axis=-1)[..., 0] * m, axis=1)
    pair = ops.take(ops.reshape(transitions, (-1,)), tags[:, :-1] * num_tags + tags[:, 1:])
    binary = ops.sum(pair * m[:, 1:], axis=1)
    lengths = ops.cast(ops.sum(m, axis=1), "int32")
    last = ops.take_along_axis(tags, ops.maximum(lengths - 1, 0)[:, None], axis=1)[:, 0]  # an empty row: index 0
    return ops.take(start, tags[:, 0]) + unary + binary + ops.take(end, last)


def log_partition(emissions, mask, transitions, start, end):
    """log Z per sequence (B,), by the forward algorithm."""
    xs = _time_major(emissions, mask)
    alpha = start[None, :] + _split(xs[0])[0]
    if xs.shape[0] != 1:
        def step(alpha, x_t):
            e_t, m_t = _split(x_t)
            nxt = ops.logsumexp(alpha[:, :, None] + transitions[None], axis=1) + e_t
            alpha = ops.where(m_t[:, None] > 0, nxt, alpha)
            return alpha, alpha

        alpha, _ = ops.scan(step, alpha, xs[1:])
    return ops.logsumexp(alpha + end[None, :], axis=1)


def log_likelihood(emissions, tags, mask, transitions, start, end):
    """log p(tags | emissions) per sequence (B,); its negative mean is the training loss."""
    return sequence_score(emissions, tags, mask, transitions, start, end) - \
        log_partition(emissions, mask, transitions, start, end)


def viterbi_decode(emissions, mask, transitions, start, end):
    """The best tag sequence per sequence (B, n) int32; padded positions repeat the last tag."""
    xs = _time_major(emissions, mask)
    num_tags = emissions.shape[-1]
    score = start[None, :] + _split(xs[0])[0]
    if xs.shape[0] == 1:
        return ops.cast(ops.argmax(score + end[None, :], axis=-1), "int32")[:, None]

    # Backpointers and tags are small integers carried as floats (exact): TensorFlow's
    # scan stacks its outputs in the dtype of the scanned inputs.
    def forward(score, x_t):
        e_t, m_t = _split(x_t)
        candidates = score[:, :, None] + transitions[None]             # (B, from, to)
        keep = m_t[:, None] > 0
        best_from = ops.cast(ops.argmax(candidates, axis=1), score.dtype)  # (B, to)
        stay = ops.broadcast_to(ops.arange(num_tags, dtype=score.dtype)[None, :], ops.shape(best_from))
        score = ops.where(keep, ops.max(candidates, axis=1) + e_t, score)
        return score, ops.where(keep, best_from, stay)                 # padding: stay on the same tag

    score, backpointers = ops.scan(forward, score, xs[1:])             # (n-1, B, T)
    last = ops.cast(ops.argmax(score + end[None, :], axis=-1), score.dtype)

    def backward(tag, pointers):
        # carry: the tag at step t; emit it, move to the tag at step t-1
        index = ops.cast(tag, "int32")[:, None]
        return ops.take_along_axis(pointers, index, axis=1)[:, 0], tag

    first, later = ops.scan(backward, last, backpointers, reverse=True)
    return ops.cast(ops.transpose(ops.concatenate([first[None], later], axis=0), (1, 0)), "int32")


@keras.saving.register_keras_serializable(package="gnn")
class CRF(layers.Layer):
    """Holds the transition, start and end scores. In training ``call`` passes the
    emission scores through (the loss reads them with the potentials); in inference it
    returns the Viterbi path one-hot (B, n, T), so ``argmax`` gives the tags."""

    def __init__(self, num_tags: int, allowed=None, allowed_start=None, allowed_end=None, **kwargs):
        super().__init__(**kwargs)
        self.num_tags = num_tags
        as_list = lambda a: None if a is None else np.asarray(a, bool).tolist()  # noqa: E731
        self.allowed, self.allowed_start = as_list(allowed), as_list(allowed_start)
        self.allowed_end = as_list(allowed_end)

    def build(self, input_shape):
        init = keras.initializers.Zeros()
        self.transitions = self.add_weight(shape=(self.num_tags, self.num_tags), initializer=init, name="transitions")
        self.start = self.add_weight(shape=(self.num_tags,), initializer=init, name="start")
        self.end = self.add_weight(shape=(self.num_tags,), initializer=init, name="end")

    def potentials(self):
        """(transitions, start, end) with the hard constraints applied."""
        def constrain(scores, allowed):
            if allowed is None:
                return scores
            return scores + ops.convert_to_tensor(np.where(allowed, 0.0, FORBIDDEN).astype("float32"))

        return (constrain(self.transitions, self.allowed), constrain(self.start, self.allowed_start),
                constrain(self.end, self.allowed_end))

    def call(self, emissions, mask=None, training=None):
        if training:
            return emissions
        if mask is None:
            mask = ops.ones(ops.shape(emissions)[:2], "bool")
        return ops.one_hot(self.decode(emissions, mask), self.num_tags, dtype=emissions.dtype)

    def compute_output_spec(self, emissions, mask=None, training=None):
        return keras.KerasTensor(emissions.shape, dtype=emissions.dtype)

    def compute_mask(self, inputs, mask=None):
        return None  # the output is complete per sentence; nothing downstream reads a mask

    def log_likelihood(self, emissions, tags, mask):
        return log_likelihood(emissions, tags, mask, *self.potentials())

    def decode(self, emissions, mask):
        return viterbi_decode(emissions, mask, *self.potentials())

    def get_config(self):
        return {**super().get_config(), "num_tags": self.num_tags, "allowed": self.allowed,
                "allowed_start": self.allowed_start, "allowed_end": self.allowed_end}
