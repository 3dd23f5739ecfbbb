"""Training batches: Keras builds a PyDataset's input signature from its first two
batches, so they must not agree on a padded length that later batches exceed."""
import numpy as np
import pytest

from tasks.ner.batches import PAD_TO, bucketed_batches


def padded(lengths, batch):
    return -(-int(lengths[batch].max()) // PAD_TO) * PAD_TO


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
