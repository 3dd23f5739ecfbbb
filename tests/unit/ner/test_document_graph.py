"""The document graph's inputs: documents survive reading, document batches keep them
whole, and each token's document edges equal a brute-force search; IOBES round-trips."""
import itertools

import numpy as np
import pytest

from models.graph_conv import DOC_EARLIER, DOC_LATER, NO_EDGE
from tasks.ner.batches import NerSplit, document_batches, document_edges, make_batch, padded_length
from tasks.ner.conll import read_conll
from tasks.ner.schemes import iob2_to_iobes, relabel, scheme_labels, to_iob2

TYPES = ["PER", "LOC", "ORG", "MISC"]
WORDS = ["Clinton", "said", "Bonn", "the", "The", "CLINTON", "Reuters", "He", "of"]


def random_split(rng, count=40, docs=6) -> NerSplit:
    lengths = rng.integers(1, 9, count)
    tokens = [[WORDS[k] for k in rng.integers(0, len(WORDS), n)] for n in lengths]
    doc = np.sort(rng.integers(0, docs, count)).astype(np.int32)
    zeros = lambda dtype: [np.zeros(n, dtype) for n in lengths]  # noqa: E731
    return NerSplit(tokens=tokens, word=[np.full(n, 2, np.int32) for n in lengths], casing=zeros(np.int8),
                    label=zeros(np.int8), head=zeros(np.int32), rel=zeros(np.int16),
                    chars=[[np.ones(3, np.int32)] * n for n in lengths], doc=doc)


def brute_force_edges(split, idx, n, k):
    """Every (row, token) -> the flat positions of its document edges, by sorting all
    candidates by distance in batch order."""
    from spacy.lang.en.stop_words import STOP_WORDS

    from tasks.ner.features import mention_key

    tokens = [(row, t, split.tokens[i][t], split.doc[i]) for row, i in enumerate(idx)
              for t in range(len(split.tokens[i]))]
    want = {}
    for row, t, word, doc in tokens:
        key = mention_key(word, STOP_WORDS)
        same = [r * n + s for r, s, w, d in tokens
                if key is not None and r != row and d == doc and mention_key(w, STOP_WORDS) == key]
        here = row * n + t
        before = sorted((f for f in same if f < here), reverse=True)[:k - k // 2]
        after = sorted(f for f in same if f > here)[:k // 2]
        want[(row, t)] = sorted(before + after)
    return want


def test_reader_numbers_documents(tmp_path):
    text = "-DOCSTART- O\n\nA O\n\nB O\n\n-DOCSTART- O\n\nC O\n"
    (tmp_path / "d.txt").write_text(text)
    assert [s.doc for s in read_conll(tmp_path / "d.txt", TYPES)] == [0, 0, 1]
    (tmp_path / "plain.txt").write_text("A O\n\nB O\n\nC O\n")
    # no -DOCSTART- at all: independent sentences, so nothing links them
    assert [s.doc for s in read_conll(tmp_path / "plain.txt", TYPES)] == [0, 1, 2]


@pytest.mark.parametrize("seed, k", itertools.product(range(6), [1, 2, 6]))
def test_document_edges_equal_brute_force(seed, k):
    rng = np.random.default_rng(seed)
    split = random_split(rng)
    for idx in document_batches(split, 8, rng):
        n = padded_length(int(split.lengths[idx].max()))
        src = document_edges(split, idx, n, k)
        assert src.shape == (len(idx), n, k)
        want = brute_force_edges(split, idx, n, k)
        for (row, t), flat in want.items():
            assert sorted(f for f in src[row, t] if f >= 0) == flat, (row, t)
        padded = np.ones(src.shape[:2], bool)
        for row, i in enumerate(idx):
            padded[row, :len(split.tokens[i])] = False
        assert (src[padded] == -1).all()


@pytest.mark.parametrize("seed", range(5))
def test_no_edge_crosses_a_document_or_stays_in_its_sentence(seed):
    rng = np.random.default_rng(seed)
    split = random_split(rng, count=60, docs=15)
    edges = 0
    for idx in document_batches(split, 8, rng):
        x, _, _ = make_batch(split, idx, 24, doc_neighbours=4)
        n = x["words"].shape[1]
        document = x["edges"][np.isin(x["edges"][:, 2], [DOC_EARLIER, DOC_LATER])]
        for f, g, kind in zip(x["nodes"][document[:, 0]], x["nodes"][document[:, 1]], document[:, 2]):
            (row, t), (src_row, src_t) = divmod(g, n), divmod(f, n)
            assert split.doc[idx[src_row]] == split.doc[idx[row]] and src_row != row
            assert split.tokens[idx[src_row]][src_t].lower() == split.tokens[idx[row]][t].lower()
            assert kind == (DOC_EARLIER if f < g else DOC_LATER)
            edges += 1
    assert edges > 20  # the check ran on real edges


@pytest.mark.parametrize("seed", range(3))
def test_the_nodes_list_adds_no_batch_shape(seed):
    # JAX compiles one program per input shape: the length of ``nodes`` follows from the
    # padded edge list and the rows, and still holds every real token.
    rng = np.random.default_rng(seed)
    split = random_split(rng, count=60, docs=15)
    for idx in document_batches(split, 8, rng):
        x, _, w = make_batch(split, idx, 24, doc_neighbours=4, rows=8)
        B = x["words"].shape[0]
        assert len(x["nodes"]) == (len(x["edges"]) + 2 * B) // 5
        np.testing.assert_array_equal(x["nodes"][x["nodes"] >= 0], np.flatnonzero(w.reshape(-1) > 0))
        assert (x["nodes"][(x["nodes"] >= 0).sum():] == -1).all()


def test_document_batches_keep_windows_of_one_document_in_order():
    rng = np.random.default_rng(0)
    split = random_split(rng, count=90, docs=4)  # documents longer than a batch
    for r in (None, rng):
        batches = document_batches(split, 8, r)
        assert sorted(np.concatenate(batches).tolist()) == list(range(90))
        assert all(len(b) <= 8 and (np.diff(b) > 0).all() for b in batches)
    # a whole short document stays in one batch
    split = random_split(rng, count=30, docs=10)
    where = {int(i): b for b, idx in enumerate(document_batches(split, 8, None)) for i in idx}
    for d in np.unique(split.doc):
        members = np.flatnonzero(split.doc == d)
        if len(members) <= 8:
            assert len({where[int(i)] for i in members}) == 1


def test_a_single_sentence_has_no_document_edges():
    split = random_split(np.random.default_rng(1), count=1, docs=1)
    split.tokens[0] = ["Clinton", "met", "Clinton"]
    x, _, _ = make_batch(split, np.array([0]), 24, doc_neighbours=6)
    assert not np.isin(x["edges"][:, 2], [DOC_EARLIER, DOC_LATER]).any()
    L = len(split.word[0])  # its tree both ways, its neighbours both ways, self loops; nothing else
    assert (x["edges"][:, 2] != NO_EDGE).sum() == 5 * L - 2


def random_iob2(rng, n):
    tags, i = [], 0
    while i < n:
        if rng.random() < 0.5:
            tags.append("O")
            i += 1
            continue
        t, length = rng.choice(TYPES), int(rng.integers(1, 4))
        tags += [f"B-{t}"] + [f"I-{t}"] * (length - 1)
        i += length
    return tags[:n]  # a cut chunk is still well formed


@pytest.mark.parametrize("seed", range(30))
def test_iobes_round_trips_to_iob2_exactly(seed):
    rng = np.random.default_rng(seed)
    from tasks.ner.conll import iob1_to_iob2

    tags = iob1_to_iob2(random_iob2(rng, int(rng.integers(1, 15))))  # well-formed IOB2
    iobes = iob2_to_iobes(tags)
    assert to_iob2(iobes) == tags
    labels = scheme_labels(["O"] + [f"{p}-{t}" for t in TYPES for p in "BI"], "iobes")
    assert set(iobes) <= set(labels) and len(labels) == 1 + 4 * len(TYPES)
    assert to_iob2(tags) == tags  # IOB2 passes through


def test_iobes_examples_and_relabel():
    assert iob2_to_iobes(["B-PER", "I-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]) == \
        ["B-PER", "I-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC"]
    iob2 = ["O", "B-PER", "I-PER"]
    iobes = scheme_labels(iob2, "iobes")
    assert iobes == ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    assert relabel([[1, 2, 0, 1], [0]], iob2, "iobes") == [[1, 3, 0, 4], [0]]
    assert relabel([[1, 2, 0, 1]], iob2, "iob2") == [[1, 2, 0, 1]]
    with pytest.raises(ValueError, match="tag scheme"):
        scheme_labels(iob2, "bilou")
