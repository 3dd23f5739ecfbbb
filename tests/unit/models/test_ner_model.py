"""Presets build, produce per-token distributions, and train a step on every backend-agnostic path."""
import numpy as np
import pytest

from models.ner import PRESETS, build_ner_model, resolve_config
from tasks.ner.batches import bucketed_batches, make_batch
from tests.unit.models.tiny_ner import LABELS, legal_labels, tiny_split


def test_bucketed_batches_cover_every_sentence_once():
    lengths = np.random.default_rng(0).integers(1, 50, 103)
    for rng in (None, np.random.default_rng(1)):
        batches = bucketed_batches(lengths, 8, rng)
        assert sorted(np.concatenate(batches).tolist()) == list(range(103))
        assert all(len(b) <= 8 for b in batches)


def test_make_batch_pads_and_masks():
    split = tiny_split(np.random.default_rng(0))
    x, y, w = make_batch(split, np.array([0, 1, 2]), max_word_length=24)
    assert x["words"].shape[1] % 8 == 0 and x["chars"].shape[2] == 24
    for row, i in enumerate([0, 1, 2]):
        n = len(split.word[i])
        assert w[row].sum() == n and np.all(x["words"][row, n:] == 0)
        np.testing.assert_array_equal(y[row, :n], split.label[i])


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_build_and_fit_a_step(preset):

    # softmax heads here (the CRF head has its own test below: it has no evaluate() loss)
    output = "dense" if PRESETS[preset].output == "crf" else None
    config = resolve_config(preset, gcn_units=16, context_units=8 if PRESETS[preset].context_units else None,
                            output=output)
    model = build_ner_model(config, vocab_size=30, embedding_dim=6, num_chars=20, num_labels=9, num_dep_labels=45)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    split = tiny_split(np.random.default_rng(1))
    x, y, w = make_batch(split, np.arange(len(split)), 24, doc_neighbours=config.document_inputs)
    probs = np.asarray(model.predict_on_batch(x))
    assert probs.shape == (*x["words"].shape, 9)
    np.testing.assert_allclose(probs[w > 0].sum(-1), 1.0, atol=1e-4)
    before = float(model.test_on_batch(x, y, sample_weight=w))
    for _ in range(5):
        model.train_on_batch(x, y, sample_weight=w)
    assert float(model.test_on_batch(x, y, sample_weight=w)) < before
    if preset == "seed_readme":
        assert not model.get_layer("gcn_out").backward_links


def test_overrides_replace_preset_fields():
    c = resolve_config("seed_train", gcn_units=64, dropout=0.1, combine="max")
    assert c.gcn_units == (64, 64) and c.dropout == 0.1 and c.combine == "max"


@pytest.mark.parametrize("gcn_layers", [1, 0])
def test_crf_output_trains_in_fit_decodes_legal_paths_and_round_trips(gcn_layers, tmp_path):
    """``fit`` on the real batch sequence (time length unknown when traced), the loss
    falls, predictions are one-hot Viterbi paths that never break IOB2, and the saved
    model predicts the same after loading."""
    import keras

    from models.crf import tag_constraints
    from tasks.ner.batches import BatchSequence

    keras.utils.set_random_seed(0)
    config = resolve_config("default", gcn_units=16, context_units=8, output="crf", gcn_layers=gcn_layers)
    assert config.gcn_units == ((16,) if gcn_layers else ())
    model = build_ner_model(config, vocab_size=30, embedding_dim=6, num_chars=20, num_labels=9,
                            num_dep_labels=45, labels=LABELS)
    assert any(layer.name.startswith("gcn_") for layer in model.layers) == bool(gcn_layers)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    split = legal_labels(tiny_split(np.random.default_rng(2), count=24))
    history = model.fit(BatchSequence(split, 8, 24, seed=0, documents=True, doc_neighbours=config.document_inputs),
                        epochs=4, verbose=0).history["loss"]
    assert history[-1] < history[0]

    x, _, w = make_batch(split, np.arange(len(split)), 24, doc_neighbours=config.document_inputs)
    out = np.asarray(model.predict_on_batch(x))
    assert set(np.unique(out)) <= {0.0, 1.0} and np.all(out.sum(-1) == 1)
    allowed, start, _ = tag_constraints(LABELS)
    for row, sent in enumerate(split.word):
        path = out[row, :len(sent)].argmax(-1)
        assert start[path[0]] and all(allowed[a, b] for a, b in zip(path[:-1], path[1:]))
    model.save(tmp_path / "crf.keras")
    again = keras.models.load_model(tmp_path / "crf.keras")
    np.testing.assert_array_equal(np.asarray(again.predict_on_batch(x)), out)


def test_output_and_gcn_layers_overrides():
    assert resolve_config("default", output="crf").output == "crf"
    assert resolve_config("seed_train", gcn_layers=3, gcn_units=32).gcn_units == (32, 32, 32)
    assert resolve_config("default", gcn_layers=0).gcn_units == ()
    with pytest.raises(ValueError, match="output must be one of"):
        resolve_config("default", output="softmax")


def test_empty_batch_rows_change_neither_loss_nor_predictions():
    """Document batches are padded to a fixed number of rows with empty ones: the CRF
    loss is the mean over real sentences, and real rows decode as before."""
    import keras

    keras.utils.set_random_seed(0)
    config = resolve_config("default", gcn_units=16, context_units=8, dropout=0.0)  # no random masks
    model = build_ner_model(config, vocab_size=30, embedding_dim=6, num_chars=20, num_labels=9,
                            num_dep_labels=45, labels=LABELS)
    split = legal_labels(tiny_split(np.random.default_rng(4), count=6))
    idx = np.arange(6)
    losses, outputs = [], []
    for rows in (0, 11):
        x, y, _ = make_batch(split, idx, 24, doc_neighbours=config.document_inputs, rows=rows)
        assert x["words"].shape[0] == max(rows, 6)
        losses.append(float(model.compute_loss(x, y, model(x, training=True), training=True)))
        outputs.append(np.asarray(model.predict_on_batch(x))[:6])
    assert np.isfinite(losses[0]) and losses[0] == pytest.approx(losses[1], rel=1e-5)
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_char_cnn_on_real_tokens_only_equals_every_position():
    # The model convolves the real tokens' characters only (the ``nodes`` of a batch);
    # every other position gets -1s, as an empty word does when every position is convolved.
    from models.ner import CharCNN

    split = tiny_split(np.random.default_rng(3))
    x, _, w = make_batch(split, np.arange(6), 24, rows=8)
    assert (w == 0).any()  # padding to skip
    layer = CharCNN(20, 5, 7)
    every = np.asarray(layer(x["chars"]))
    real = np.asarray(layer([x["chars"], x["nodes"]]))
    assert (x["nodes"] >= 0).sum() == (w > 0).sum() and (x["nodes"] == -1).any()  # and padded entries
    np.testing.assert_allclose(real, every, atol=1e-6)
    assert np.abs(every[w > 0]).max() > 1e-3 and (every[w == 0] == -1).all()


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_the_default_trains_under_mixed_precision(policy):
    """ner.train.mixed_precision: the default (gated, weighted document and dependency
    edges, CRF) computes in half precision and its loss is finite and falls. The graph
    layer once multiplied its float32 edge weights into half-precision messages and the
    first step failed."""
    import keras

    from tasks.ner.batches import BatchSequence

    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        config = resolve_config("default", gcn_units=16, context_units=8)
        model = build_ner_model(config, vocab_size=30, embedding_dim=6, num_chars=20, num_labels=9,
                                num_dep_labels=45, labels=LABELS)
        model.compile(optimizer=keras.optimizers.Adam(0.01))
        split = legal_labels(tiny_split(np.random.default_rng(2), count=24))
        history = model.fit(BatchSequence(split, 8, 24, seed=0, documents=True,
                                          doc_neighbours=config.document_inputs), epochs=4, verbose=0).history["loss"]
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert model.get_layer("gcn_0").compute_dtype != "float32"
    assert np.all(np.isfinite(history)) and history[-1] < history[0]
