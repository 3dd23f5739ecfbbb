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
