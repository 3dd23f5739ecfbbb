"""NER training on tiny data: outputs, early stopping bookkeeping, resume after an
interruption, a checkpoint that a changed model or data does not resume, determinism,
batch feeding threads that change nothing, one TensorFlow thread per op, and inference
from the artifact alone.

Most checks read one observed training (the module's ``observed`` fixture: a default run
watched as it trains) instead of training afresh; each test that trains again does so in
its own copy of the prepared data, so no test sees another's changes."""
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tasks.common import paths
from tests.support import TINY_NER, tiny_params
from tests.synthetic import write_conll_slice

TINY = {**TINY_NER, "ner.data.dir": "raw", "ner.data.max_sentences": 30, "ner.train.patience": 10}


def prepare_here():
    """The tiny CoNLL slice prepared in the current directory; its validated NER params."""
    from tasks.ner.preparation import prepare

    write_conll_slice(Path("raw"), sentences=30)
    params = tiny_params(TINY).ner
    prepare(params, paths.NER_PREPARED)
    return params


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return prepare_here()


@dataclass(frozen=True)
class ObservedRun:
    """One finished default training of the tiny project and what was seen as it ran."""
    folder: Path               # its project folder: read it, copy it, never change it
    params: object             # its NerParams
    results: dict              # what train() returned
    sequences: list            # every BatchSequence built, in order (one per epoch)
    steps: list[int]           # batches trained in each epoch
    rates: list[float]         # the optimizer's rate at each scoring (dev per epoch, then dev and test)
    weights: list[np.ndarray]  # the final model's weights, as written


@pytest.fixture(scope="module")
def observed(tmp_path_factory) -> ObservedRun:
    import keras

    import tasks.ner.batches as nb
    import tasks.ner.training as tn

    folder = tmp_path_factory.mktemp("observed")
    sequences, steps, rates, weights = [], [], [], []

    class Recorded(nb.BatchSequence):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            sequences.append(self)

    class CountSteps(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            steps.append(0)

        def on_train_batch_end(self, batch, logs=None):
            steps[-1] += 1

    real_predict, real_write = tn.predict_tags, tn.write_outputs

    def predict_at_rate(model, *args, **kwargs):
        rates.append(float(model.optimizer.learning_rate))
        return real_predict(model, *args, **kwargs)

    def write_keeping_weights(model, *args):
        weights.extend(model.get_weights())
        return real_write(model, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        params = prepare_here()
        assert not params.train.lr_decay and tn.rate_schedule(params.train) is None  # CountSteps takes its slot
        mp.setattr(nb, "BatchSequence", Recorded)
        mp.setattr(tn, "rate_schedule", lambda tp: CountSteps())
        mp.setattr(tn, "predict_tags", predict_at_rate)
        mp.setattr(tn, "write_outputs", write_keeping_weights)
        results = tn.train(params)
    return ObservedRun(folder, params, results, sequences, steps, rates, weights)


def prepared_copy(run: ObservedRun, tmp_path: Path, monkeypatch) -> None:
    """Work in ``tmp_path`` on a copy of the observed run's prepared data (no outputs)."""
    shutil.copytree(run.folder / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)


def test_interrupted_training_resumes_from_last_epoch_at_that_epochs_rate(prepared, monkeypatch, capsys):
    """Interrupted in its second epoch, the next run resumes there; with a decaying rate,
    each epoch (the resumed one too) trains at its own epoch's rate."""
    import tasks.ner.training as tn

    decaying = prepared.model_copy(update={"train": prepared.train.model_copy(update={"lr_decay": 0.5})})
    lr = decaying.train.learning_rate
    real_predict, rates = tn.predict_tags, []

    def interrupt_in_epoch_two(model, *args, **kwargs):  # dev scoring runs after each epoch, at its rate
        rates.append(float(model.optimizer.learning_rate))
        if len(rates) == 2:
            raise KeyboardInterrupt
        return real_predict(model, *args, **kwargs)

    monkeypatch.setattr(tn, "predict_tags", interrupt_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        tn.train(decaying)
    assert not Path("metrics/ner.json").exists() and not Path("artifacts/ner").exists()
    state = json.loads((tn.checkpoint_dir(decaying) / "state.json").read_text())
    assert state["epoch"] == 1 and len(state["history"]) == 1

    results = tn.train(decaying)
    assert "resuming from epoch 1" in capsys.readouterr().out
    assert rates[:4] == pytest.approx([lr, lr / 1.5, lr / 1.5, lr / 2.0])
    assert results["epochs_run"] == 3
    history = Path("plots/ner/history.csv").read_text().splitlines()
    assert len(history) == 4 and history[1].startswith("1,")
    assert set(results["test"]) >= {"precision", "recall", "f1", "per_type"}
    assert 0.0 <= results["test"]["f1"] <= 1.0
    lines = Path("artifacts/ner/test_predictions.txt").read_text().split("\n\n")
    n_test = json.loads(Path("data/prepared/ner/stats.json").read_text())["test"]["sentences"]
    assert len([b for b in lines if b.strip()]) == n_test
    assert all(len(line.split(" ")) == 3 for line in lines[0].splitlines())
    assert not tn.checkpoint_dir(decaying).exists()
    assert tn.checkpoint_dir(decaying) != tn.checkpoint_dir(prepared)  # no resume across schedules


def test_checkpoint_key_covers_data_code_and_backend(prepared, monkeypatch):
    import tasks.ner.training as tn

    key = tn.checkpoint_dir(prepared)
    stats = paths.NER_PREPARED / "stats.json"
    stats.write_text(stats.read_text() + " ")
    assert tn.checkpoint_dir(prepared) != key  # changed prepared data: no stale resume
    after_data = tn.checkpoint_dir(prepared)
    monkeypatch.setattr(tn, "code_digest", lambda: "other model code")
    assert tn.checkpoint_dir(prepared) != after_data  # changed model code: no stale resume
    after_code = tn.checkpoint_dir(prepared)
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert tn.checkpoint_dir(prepared) != after_code  # another backend: no resume across backends


def test_clip_norm_reaches_the_optimizer_and_the_checkpoint_key(prepared, tmp_path):
    import tasks.ner.training as tn

    config = tn.model_config(prepared)
    data = tn.load_prepared(paths.NER_PREPARED, config.tag_scheme)
    for clip, expected in ((1.0, 1.0), (0.0, None)):
        model, _ = tn.build_or_resume(config, data, 1e-3, tn.Checkpoint(tmp_path / str(clip)), clip)
        assert model.optimizer.global_clipnorm == expected
    clipped, unclipped = (prepared.model_copy(update={"train": prepared.train.model_copy(update={"clip_norm": c})})
                          for c in (1.0, 0.0))
    assert tn.checkpoint_dir(clipped) != tn.checkpoint_dir(unclipped)  # no resume across clip settings


def test_the_default_rate_never_moves(observed):
    constant = observed.rates  # lr_decay 0 (the default): dev scoring after each epoch sees one rate
    assert constant and constant == pytest.approx([observed.params.train.learning_rate] * len(constant))


def test_each_epoch_trains_on_every_batch_of_its_own_shuffle(observed):
    """One batch sequence per epoch, shuffled from seed + epoch, every batch of it trained:
    Keras fixes an epoch's step count when fit starts, so a sequence reshuffled inside one
    fit could hold more batches than the steps run (tasks/ner/training.py:fit)."""
    import tasks.ner.batches as nb

    sequences = observed.sequences
    assert observed.results["epochs_run"] == len(sequences) == len(observed.steps) == observed.params.train.epochs
    assert [s.epoch for s in sequences] == list(range(len(sequences)))
    assert observed.steps == [len(s) for s in sequences]
    seed = observed.params.train.seed
    assert [s.batches[0].tolist() for s in sequences] == [
        nb.batch_indices(s.split, s.batch_size, np.random.default_rng(seed + e), s.documents)[0].tolist()
        for e, s in enumerate(sequences)]


def test_training_is_deterministic_by_seed(observed, tmp_path, monkeypatch):
    import tasks.ner.training as tn

    prepared_copy(observed, tmp_path, monkeypatch)
    assert tn.train(observed.params) == observed.results
    first, again = ((folder / paths.NER_HISTORY).read_text() for folder in (observed.folder, tmp_path))
    assert again.split("\n")[0] == first.split("\n")[0]
    losses = lambda text: [line.split(",")[:5] for line in text.splitlines()]  # noqa: E731 (not the seconds)
    assert losses(again) == losses(first)


def test_batch_worker_threads_train_the_same_weights_as_one(observed, tmp_path, monkeypatch):
    """Two feeding threads (BatchSequence.WORKERS, to avoid tf.data's end-of-fit wait)
    must give the model exactly what one gives: the same batches in the same order."""
    import tasks.ner.training as tn
    from tasks.ner.batches import BatchSequence

    assert BatchSequence.WORKERS == 2 and {s.workers for s in observed.sequences} == {2}  # the observed run: two
    prepared_copy(observed, tmp_path, monkeypatch)
    real_write, real_batches = tn.write_outputs, tn.epoch_batches
    kept, fed_by = [], set()

    def one_thread(*args):
        seq = real_batches(*args, workers=1)
        fed_by.add(seq.workers)
        return seq

    monkeypatch.setattr(tn, "epoch_batches", one_thread)
    monkeypatch.setattr(tn, "write_outputs", lambda model, *a: (kept.extend(model.get_weights()),
                                                                 real_write(model, *a)))
    assert tn.train(observed.params) == observed.results
    assert fed_by == {1}
    assert len(kept) == len(observed.weights) and all(np.array_equal(a, b) for a, b in zip(observed.weights, kept))


def test_inference_reads_only_the_artifact(observed, tmp_path, monkeypatch):
    import tasks.ner.training as tn
    from tasks.common.files import DataError
    from tasks.ner.inference import load_tagger, tag_entities

    monkeypatch.chdir(tmp_path)  # nothing trained here
    with pytest.raises(DataError, match="no trained NER model"):
        load_tagger()
    shutil.copytree(observed.folder, tmp_path / "proj")
    monkeypatch.chdir(tmp_path / "proj")
    info = json.loads(paths.NER_MODEL_INFO.read_text())
    assert info["preset"] == "default" and info["max_word_length"] == 24 and info["labels"][0] == "O"
    assert not Path("params.yaml").exists() and not Path("dvc.lock").exists()
    from tasks.ner.batches import load_split

    test_split = load_split(paths.NER_PREPARED / "test.npz")
    # What training predicted on test, one tag per token (test_predictions.txt: token gold pred).
    trained = [[line.split(" ")[2] for line in block.splitlines()]
               for block in paths.NER_TEST_PREDICTIONS.read_text().split("\n\n") if block.strip()]
    moved = tmp_path / "elsewhere"
    shutil.copytree(paths.NER_ARTIFACTS, moved)
    shutil.rmtree("data")  # the prepared data is not needed either
    tagger = load_tagger(moved)
    # The moved artifact alone predicts what training predicted, token by token.
    assert tn.predict_tags(tagger.model, test_split, tagger.info["labels"], max_word_length=24,
                           **tagger.info["batching"]) == trained
    entities = tag_entities(tagger, "John Smith lives in Paris .")
    assert all(t in {"PER", "LOC", "ORG", "MISC"} and w for t, w in entities)
    # a text of two sentences is tagged as one document of two sentences, in text order
    from tasks.ner.inference import split_sentences

    text = "John Smith lives in Paris . Smith met Anna Weber in Berlin ."
    assert [len(s.tokens) for s in split_sentences(tagger, text)] == [6, 7]
    both = tag_entities(tagger, text)
    assert all(t in {"PER", "LOC", "ORG", "MISC"} and w in text for t, w in both)
    with pytest.raises(DataError, match="empty text"):
        tag_entities(tagger, "  ")


def test_code_key_is_the_stage_deps_in_dvc_yaml(prepared, tmp_path):
    """The checkpoint's code key hashes exactly the Python files dvc.yaml lists for
    train_ner (one list, not a second hand-kept one), read beside the code, not the cwd."""
    import tasks.ner.training as tn
    from tasks.common.settings import PROJECT_ROOT as root
    from tasks.common.stage import declared_sources

    assert root == Path(tn.__file__).resolve().parents[2]  # beside the code being run
    sources = declared_sources("train_ner", root / "dvc.yaml")
    assert {p.relative_to(root).as_posix() for p in sources} >= {
        "models/ner.py", "models/lstm.py", "models/crf.py", "models/graph_conv.py", "tasks/ner/training.py"}
    assert all(p.is_file() for p in sources)
    from tasks.common.files import tree_digest

    assert tn.code_digest() == tree_digest(*sources)
    spec = tmp_path / "dvc.yaml"  # a dep added to the stage joins the key
    spec.write_text("stages:\n  train_ner:\n    deps: [data/prepared/ner, tasks/common, a.py]\n")
    assert declared_sources("train_ner", spec) == [tmp_path / "a.py"]


THREADS_PROBE = """
import tensorflow as tf
from tasks.ner.training import use_cpu_threads
if {started}:
    tf.constant(1.0) + 1.0  # TensorFlow starts: its thread pools are fixed from here
print(use_cpu_threads(), tf.config.threading.get_intra_op_parallelism_threads())
"""


@pytest.mark.parametrize("started, expected", [(False, "True 1"), (True, "False 0")])
def test_training_gives_each_op_one_thread_unless_tensorflow_already_started(started, expected):
    import os
    import subprocess
    import sys

    from tasks.common.settings import PROJECT_ROOT

    proc = subprocess.run([sys.executable, "-c", THREADS_PROBE.format(started=started)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[-2] == expected
