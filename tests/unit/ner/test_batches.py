"""Training batches: Keras builds a PyDataset's input signature from its first two
batches, so they must not agree on a padded length that later batches exceed."""
import numpy as np
import pytest

from tasks.ner.batches import LENGTH_LADDER, PAD_TO, bucketed_batches, padded_length


def padded(lengths, batch):
    return padded_length(int(lengths[batch].max()))


@pytest.mark.parametrize("seed", range(20))
def test_first_two_training_batches_differ_in_padded_length(seed):
    rng = np.random.default_rng(seed)
    lengths = np.where(rng.random(400) < 0.95, rng.integers(1, 8, 400), rng.integers(9, 40, 400))  # mostly short
    batches = bucketed_batches(lengths, 16, np.random.default_rng(seed))
    assert padded(lengths, batches[0]) != padded(lengths, batches[1])
    assert sorted(np.concatenate(batches).tolist()) == list(range(400))


def test_one_length_only_is_left_alone():
    lengths = np.full(50, 5)
    batches = bucketed_batches(lengths, 8, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(50))


def test_padded_length_is_the_next_rung_then_multiples_of_64():
    for n in range(1, 300):
        got = padded_length(n)
        assert got >= n
        if n <= LENGTH_LADDER[-1]:
            assert got in LENGTH_LADDER and all(r < n for r in LENGTH_LADDER if r < got)
        else:
            assert got % 64 == 0 and got - n < 64
        old = padded_length(n, ladder=None)
        assert old % PAD_TO == 0 and old - n < PAD_TO


def test_the_ladder_bounds_the_number_of_batch_shapes():
    """CoNLL-like lengths (1..124): a whole epoch uses at most one length per rung (plus
    the partial batch), where multiples of 8 give about twice as many."""
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.geometric(1 / 14, 5000), 1, 124)
    batches = bucketed_batches(lengths, 32, rng)
    ladder = {(len(b), padded_length(int(lengths[b].max()))) for b in batches}
    old = {(len(b), padded_length(int(lengths[b].max()), None)) for b in batches}
    assert len(ladder) <= len(LENGTH_LADDER) + 1 < len(old)


def word_split(sentences: list[list[int]]):
    from tasks.ner.batches import NerSplit

    zeros = lambda: [np.zeros(len(s), np.int32) for s in sentences]  # noqa: E731
    return NerSplit(tokens=[["W"] * len(s) for s in sentences], word=[np.asarray(s, np.int32) for s in sentences],
                    casing=zeros(), label=zeros(), head=zeros(), rel=zeros(),
                    chars=[[np.ones(2, np.int32)] * len(s) for s in sentences])


def test_singletons_are_the_ids_counted_once():
    from tasks.ner.batches import singleton_words

    sentences = [[2, 3, 4, 3], [5, 2, 6], [7, 7, 8]]
    counts = {}
    for s in sentences:
        for w in s:
            counts[w] = counts.get(w, 0) + 1
    assert singleton_words(word_split(sentences)).tolist() == sorted(w for w, c in counts.items() if c == 1)


def test_word_dropout_turns_only_singletons_into_unk_at_its_rate():
    from tasks.ner.batches import drop_words
    from tasks.ner.features import PAD, UNK

    words = np.tile(np.array([[PAD, 5, 6, 7, PAD]], np.int32), (4000, 1))
    out = drop_words(words, np.array([6, 7]), 0.3, np.random.default_rng(0))
    changed = out != words
    assert set(np.unique(out[changed])) == {UNK}
    assert not changed[:, [0, 1, 4]].any()  # padding and the frequent word 5 are kept
    assert changed[:, 2:4].mean() == pytest.approx(0.3, abs=0.02)
    assert out.dtype == words.dtype


def test_word_dropout_batches_are_reproducible_and_off_means_unchanged():
    from tasks.ner.batches import BatchSequence
    from tasks.ner.features import UNK

    rng = np.random.default_rng(1)
    split = word_split([rng.integers(2, 400, rng.integers(3, 12)).tolist() for _ in range(60)])
    make = lambda rate, epoch=0: BatchSequence(split, 8, 5, seed=3, word_dropout=rate, epoch=epoch)  # noqa: E731
    plain, dropped, again, later = make(0.0), make(0.5), make(0.5), make(0.5, epoch=1)
    words = [plain[i][0]["words"] for i in range(len(plain))]
    assert all(np.array_equal(dropped[i][0]["words"], dropped[i][0]["words"]) for i in range(len(plain)))
    assert all(np.array_equal(dropped[i][0]["words"], again[i][0]["words"]) for i in range(len(plain)))
    hits = sum(int((dropped[i][0]["words"] == UNK).sum()) for i in range(len(plain)))
    assert hits > 0 and not any((w == UNK).any() for w in words)
    later.batches = dropped.batches  # the same sentences, drawn again in another epoch
    assert not all(np.array_equal(dropped[i][0]["words"], later[i][0]["words"]) for i in range(len(plain)))
    with pytest.raises(ValueError, match="seed"):
        BatchSequence(split, 8, 5, seed=None, word_dropout=0.5)
