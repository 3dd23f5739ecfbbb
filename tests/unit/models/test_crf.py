"""The CRF against brute force: on tiny random inputs with masks, the log-likelihood
equals score(gold) - logsumexp over every tag sequence, and Viterbi's path is the
highest-scoring sequence (among the allowed ones, with IOB2 or IOBES constraints)."""
import itertools

import keras
import numpy as np
import pytest

from models.crf import CRF, FORBIDDEN, log_likelihood, tag_constraints, viterbi_decode
from tasks.ner.schemes import iob2_to_iobes, to_iob2

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
IOBES = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]


def brute_force(emissions, length, transitions, start, end):
    """Every sequence of ``length`` tags with its score, in numpy (float64)."""
    T = emissions.shape[-1]
    out = []
    for seq in itertools.product(range(T), repeat=length):
        s = start[seq[0]] + end[seq[-1]] + sum(emissions[t, y] for t, y in enumerate(seq))
        s += sum(transitions[a, b] for a, b in zip(seq, seq[1:]))
        out.append((seq, s))
    return out


def random_case(seed, T=len(LABELS), n=4, lengths=(4, 2, 1, 3)):
    rng = np.random.default_rng(seed)
    B = len(lengths)
    emissions = rng.normal(size=(B, n, T)).astype("float32")
    transitions, start, end = (rng.normal(size=s).astype("float32") for s in ((T, T), (T,), (T,)))
    mask = (np.arange(n)[None, :] < np.asarray(lengths)[:, None])
    tags = rng.integers(0, T, (B, n))
    return emissions, tags, mask, transitions, start, end


@pytest.mark.parametrize("seed", range(5))
def test_log_likelihood_equals_brute_force(seed):
    emissions, tags, mask, transitions, start, end = random_case(seed)
    got = np.asarray(log_likelihood(emissions, tags, mask, transitions, start, end))
    for b in range(len(emissions)):
        L = int(mask[b].sum())
        table = dict(brute_force(emissions[b].astype("float64"), L, transitions, start, end))
        log_z = np.logaddexp.reduce(list(table.values()))
        assert got[b] == pytest.approx(table[tuple(tags[b, :L])] - log_z, abs=1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_viterbi_equals_brute_force(seed):
    emissions, _, mask, transitions, start, end = random_case(seed)
    got = np.asarray(viterbi_decode(emissions, mask, transitions, start, end))
    for b in range(len(emissions)):
        L = int(mask[b].sum())
        best = max(brute_force(emissions[b].astype("float64"), L, transitions, start, end), key=lambda t: t[1])[0]
        assert tuple(got[b, :L]) == best
        assert (got[b, L:] == got[b, L - 1]).all()  # padding repeats the last tag


def test_log_likelihood_of_longer_sentences_and_an_empty_row_equals_brute_force():
    emissions, tags, mask, transitions, start, end = random_case(7, T=3, n=10, lengths=(10, 9, 8, 1, 0))
    got = np.asarray(log_likelihood(emissions, tags, mask, transitions, start, end))
    assert np.isfinite(got).all()
    for b in range(4):  # the empty row's score is meaningless (callers weight it out)
        L = int(mask[b].sum())
        table = dict(brute_force(emissions[b].astype("float64"), L, transitions, start, end))
        log_z = np.logaddexp.reduce(list(table.values()))
        assert got[b] == pytest.approx(table[tuple(tags[b, :L])] - log_z, abs=1e-4)


def test_a_single_step_batch():
    emissions, tags, mask, transitions, start, end = random_case(0, n=1, lengths=(1, 1))
    path = np.asarray(viterbi_decode(emissions, mask, transitions, start, end))
    assert path.shape == (2, 1) and (path[:, 0] == (emissions[:, 0] + start + end).argmax(-1)).all()
    ll = np.asarray(log_likelihood(emissions, tags, mask, transitions, start, end))
    assert (ll <= 0).all()


def well_formed(tags: list[str], iobes: bool) -> bool:
    """Brute-force reading of a legal sequence: IOB2 comes out of the conlleval reader
    unchanged; IOBES survives IOB2 and back."""
    from tasks.ner.conll import iob1_to_iob2

    if iobes:
        return iob2_to_iobes(to_iob2(tags)) == tags and iob1_to_iob2(to_iob2(tags)) == to_iob2(tags)
    return iob1_to_iob2(tags) == tags


@pytest.mark.parametrize("labels", [LABELS, IOBES])
def test_constraints_allow_exactly_the_well_formed_sequences(labels):
    """Against brute force: every sequence of 4 tags is allowed by the constraints if
    and only if it is well formed."""
    allowed, start, end = tag_constraints(labels)
    iobes = labels is IOBES
    for seq in itertools.product(range(len(labels)), repeat=4):
        legal = start[seq[0]] and end[seq[-1]] and all(allowed[a, b] for a, b in zip(seq, seq[1:]))
        assert legal == well_formed([labels[k] for k in seq], iobes), [labels[k] for k in seq]


@pytest.mark.parametrize("labels", [LABELS, IOBES])
def test_constraints_are_never_violated(labels):
    allowed, allowed_start, allowed_end = tag_constraints(labels)
    crf = CRF(len(labels), allowed, allowed_start, allowed_end)
    crf.build((None, None, len(labels)))
    rng = np.random.default_rng(0)
    for w in crf.weights:  # random scores that favour the forbidden moves
        w.assign(rng.normal(size=w.shape).astype("float32"))
    emissions = rng.normal(size=(6, 5, len(labels))).astype("float32")
    emissions[..., labels.index("I-PER")] += 3.0
    mask = np.ones((6, 5), bool)
    paths = np.asarray(crf.decode(emissions, mask))
    transitions, start, end = (np.asarray(p, "float64") for p in crf.potentials())
    for b, path in enumerate(paths):
        assert allowed_start[path[0]] and allowed_end[path[-1]], path
        assert all(allowed[a, c] for a, c in zip(path, path[1:])), path
        valid = [(s, v) for s, v in brute_force(emissions[b].astype("float64"), 5, transitions, start, end)
                 if v > FORBIDDEN / 2]
        assert tuple(path) == max(valid, key=lambda t: t[1])[0]


def test_layer_round_trips_through_its_config():
    crf = CRF(len(LABELS), *tag_constraints(IOBES), name="crf")
    again = CRF.from_config(crf.get_config())
    assert again.allowed == crf.allowed and again.allowed_start == crf.allowed_start and again.num_tags == 5
    assert again.allowed_end == crf.allowed_end and not all(again.allowed_end)
    x = keras.Input((None, len(LABELS)))
    model = keras.Model(x, CRF(len(LABELS))(x))
    assert model.output.shape[-1] == len(LABELS)
