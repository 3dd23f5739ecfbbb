"""Train a GCN tagger, select the epoch by dev F1, score dev and test, write the outputs.

An interrupted run resumes from its last epoch checkpoint under ``.cache/train_ner/<key>``;
the key covers the params, the prepared data, the model code and the Keras backend, so a
changed model or changed data never resumes a stale architecture, and a run never
continues under another backend.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.common import paths
from tasks.common.files import atomic_path, csv_text, tree_digest, write_json, write_text
from tasks.common.params import NerParams


def describe_device() -> str:
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return f"tensorflow, {'GPU: ' + ', '.join(g.name for g in gpus) if gpus else 'CPU'}"
    if backend == "jax":
        import jax

        return f"jax, {jax.devices()}"
    return backend


# TensorFlow on a CPU: each op on one thread, independent ops side by side (the inter-op
# pool keeps TensorFlow's one thread per core). The tagger's ops are small (a training
# batch holds ~360 tokens), so splitting one over the cores costs more in hand-offs than
# it gains, and one thread per op leaves the other core to the op beside it (the BiLSTM's
# two directions, the character CNN beside the word features, ...): a training step is
# faster so on the 2-core machine (benchmarks/ner_threads.py, docs/benchmarks.md), the
# only one measured. 0 restores TensorFlow's own choice (every core for every op).
INTRA_OP_THREADS = 1


def use_cpu_threads(intra: int = INTRA_OP_THREADS) -> bool:
    """Give each TensorFlow op ``intra`` threads; False, changing nothing, under another
    backend or once TensorFlow has started in this process (its pools are fixed then: a
    test or a notebook that ran a model before keeps what it had)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    except RuntimeError:
        return False
    return True


def predict_tags(model, split, labels: list[str], batch_size: int, max_word_length: int, documents: bool = False,
                 doc_neighbours: int = 0) -> list[list[str]]:
    """IOB2 tags of every sentence (a model of ``labels`` in IOBES is read back as IOB2),
    in batches as training made them: document windows carry their document edges."""
    from tasks.ner.batches import batch_indices, make_batch, padded_rows
    from tasks.ner.schemes import to_iob2

    out: list[list[str]] = [[] for _ in range(len(split))]
    for idx in batch_indices(split, batch_size, None, documents):
        x, _, _ = make_batch(split, idx, max_word_length, doc_neighbours=doc_neighbours,
                             rows=padded_rows(len(idx)) if documents else 0)
        probs = np.asarray(model.predict_on_batch(x))
        for row, i in enumerate(idx):
            out[i] = to_iob2([labels[k] for k in probs[row, :len(split.word[i])].argmax(-1)])
    return out


def gold_tags(split, labels: list[str]) -> list[list[str]]:
    from tasks.ner.schemes import to_iob2

    return [to_iob2([labels[k] for k in sent]) for sent in split.label]


def code_digest() -> str:
    """The source of every module train_ner lists in dvc.yaml (model, batches, scoring):
    the files of the code being run, wherever the current folder is."""
    from tasks.common.settings import PROJECT_ROOT
    from tasks.common.stage import declared_sources

    return tree_digest(*declared_sources("train_ner", PROJECT_ROOT / "dvc.yaml"))


def checkpoint_dir(params: NerParams, prepared: Path = paths.NER_PREPARED) -> Path:
    import keras

    # The backend too: a run started under JAX must not be resumed under TensorFlow.
    key = json.dumps({"model": params.model.model_dump(), "train": params.train.model_dump(),
                      "data": tree_digest(prepared), "code": code_digest(),
                      "backend": keras.backend.backend()}, sort_keys=True)
    return paths.NER_CHECKPOINTS / hashlib.sha256(key.encode()).hexdigest()[:16]


def predictions_text(split, gold: list[list[str]], pred: list[list[str]]) -> str:
    buf = io.StringIO()
    for tokens, g, p in zip(split.tokens, gold, pred):
        for t, gt, pt in zip(tokens, g, p):
            buf.write(f"{t} {gt} {pt}\n")
        buf.write("\n")
    return buf.getvalue()


def model_info(params: NerParams, config, vocab: dict) -> dict:
    """Everything inference needs besides the weights, stored next to them."""
    import dataclasses

    from tasks.ner.schemes import scheme_labels

    return {"preset": params.model.preset, "config": dataclasses.asdict(config),
            "spacy_model": params.spacy.model, "max_word_length": params.train.max_word_length,
            "labels": scheme_labels(vocab["labels"], config.tag_scheme),
            "batching": {"batch_size": params.train.batch_size, **batching(params.train, config)},
            "sizes": {k: len(vocab[k]) for k in ("words", "chars", "relations")},
            "embeddings": params.embeddings.source}


@dataclass(frozen=True)
class Checkpoint:
    """An unfinished run's state under ``.cache/train_ner/<key>``: the epoch bookkeeping,
    the last model (to resume) and the best weights so far (to restore at the end)."""
    folder: Path

    @property
    def state_file(self) -> Path:
        return self.folder / "state.json"

    @property
    def last_model(self) -> Path:
        return self.folder / "last.keras"

    @property
    def best_weights(self) -> Path:
        return self.folder / "best.weights.h5"

    def load(self):
        """(model, state) of an interrupted run, or None for a fresh start."""
        import keras

        if not (self.state_file.is_file() and self.last_model.is_file()):
            return None
        return keras.models.load_model(self.last_model), json.loads(self.state_file.read_text())

    def save(self, model, state: dict, improved: bool) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if improved:
            model.save_weights(self.best_weights)
        model.save(self.last_model)
        write_json(self.state_file, state)


@dataclass(frozen=True)
class NerData:
    vocab: dict
    splits: dict          # name -> NerSplit, label ids of ``labels``
    embeddings: np.ndarray
    labels: list[str]     # the tagger's labels: vocab.json's IOB2 ones, or their IOBES form


def load_prepared(prepared: Path, tag_scheme: str = "iob2") -> NerData:
    """The prepared splits, their labels in ``tag_scheme``."""
    import dataclasses

    from tasks.ner.batches import load_split, load_vocab
    from tasks.ner.schemes import relabel, scheme_labels

    vocab = load_vocab(prepared)
    labels = scheme_labels(vocab["labels"], tag_scheme)
    splits = {name: load_split(prepared / f"{name}.npz") for name in ("train", "dev", "test")}
    if tag_scheme != "iob2":
        splits = {name: dataclasses.replace(split, label=[np.asarray(ids, np.int8) for ids in
                                                          relabel(split.label, vocab["labels"], tag_scheme)])
                  for name, split in splits.items()}
    return NerData(vocab, splits, np.load(prepared / "embeddings.npy"), labels)


def model_config(params: NerParams):
    from models.ner import resolve_config

    m = params.model.model_dump()
    return resolve_config(m.pop("preset"), gcn_layers=m.pop("gcn_layers"), **m)


def build_or_resume(config, data: NerData, learning_rate: float, ckpt: Checkpoint, clip_norm: float = 0.0):
    """The model and its epoch state: resumed from the checkpoint, or built afresh."""
    import keras

    from models.ner import build_ner_model

    resumed = ckpt.load()
    if resumed is not None:
        model, state = resumed
        print(f"resuming from epoch {state['epoch']} (checkpoint {ckpt.folder})", flush=True)
        return model, state
    vocab = data.vocab
    model = build_ner_model(config, vocab_size=len(vocab["words"]), embedding_dim=data.embeddings.shape[1],
                            num_chars=len(vocab["chars"]), num_labels=len(data.labels),
                            num_dep_labels=len(vocab["relations"]), labels=data.labels)
    model.get_layer("word_embedding").set_weights([data.embeddings])
    # A CRF model computes its own loss (the sequence log-likelihood; see CrfTagger).
    loss = None if config.output == "crf" else "sparse_categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=clip_norm or None), loss=loss)
    return model, {"epoch": 0, "best_f1": -1.0, "best_epoch": 0, "history": []}


def batching(tp, config) -> dict:
    """How batches are cut for this run, in training and in scoring alike."""
    return {"documents": tp.batches == "documents", "doc_neighbours": config.document_inputs}


def epoch_scorer(model, data: NerData, tp, state: dict, ckpt: Checkpoint, config):
    """What happens after each epoch: dev F1, bookkeeping, checkpoint, early stopping."""
    from tasks.common.epochs import EpochResult
    from tasks.ner.span_f1 import span_scores

    dev_gold = gold_tags(data.splits["dev"], data.labels)

    def score(epoch: int, logs: dict, seconds: float) -> EpochResult:
        dev = span_scores(dev_gold, predict_tags(model, data.splits["dev"], data.labels, tp.batch_size,
                                                 tp.max_word_length, **batching(tp, config)))
        row = {"epoch": epoch, "train_loss": float(logs["loss"]), "dev_precision": dev["precision"],
               "dev_recall": dev["recall"], "dev_f1": dev["f1"], "seconds": seconds}
        state["history"].append(row)
        state["epoch"] = epoch
        improved = dev["f1"] > state["best_f1"]
        if improved:
            state["best_f1"], state["best_epoch"] = dev["f1"], epoch
        ckpt.save(model, state, improved)
        human = (f"epoch {epoch}/{tp.epochs}: loss {row['train_loss']:.4f}  dev P {dev['precision']:.4f} "
                 f"R {dev['recall']:.4f} F1 {dev['f1']:.4f}{'  *best*' if improved else ''}  ({seconds:.0f}s"
                 + (f", rate {float(model.optimizer.learning_rate):.2e})" if tp.lr_decay else ")"))
        stop = out_of_patience(state, tp)
        return EpochResult(human, {"train_loss": row["train_loss"], "dev_f1": dev["f1"]},
                           logged={k: v for k, v in row.items() if k != "epoch"},
                           stop=f"early stop: no dev F1 gain for {tp.patience} epochs" if stop else None)

    return score


def decayed_rate(learning_rate: float, decay: float, epoch: int) -> float:
    """The rate epoch ``epoch`` (from 0) trains at: inverse-time decay, a function of the
    epoch alone, so a resumed run picks up exactly where it stopped."""
    return learning_rate / (1.0 + decay * epoch)


def rate_schedule(tp):
    """Keras's per-epoch scheduler set to :func:`decayed_rate` (None when the rate is constant)."""
    import keras

    if not tp.lr_decay:
        return None
    return keras.callbacks.LearningRateScheduler(lambda epoch, _: decayed_rate(tp.learning_rate, tp.lr_decay, epoch))


def out_of_patience(state: dict, tp) -> bool:
    """Whether ``patience`` epochs have passed without a dev gain (early stopping)."""
    return state["epoch"] - state["best_epoch"] >= tp.patience


def finished(state: dict, tp) -> bool:
    """Whether training is over: the last epoch done, or out of patience."""
    return state["epoch"] >= tp.epochs or out_of_patience(state, tp)


def epoch_batches(data: NerData, tp, config, epoch: int, workers: int | None = None):
    """Epoch ``epoch``'s training batches: the train split shuffled from seed + epoch, fed
    by ``workers`` threads (None: BatchSequence's default)."""
    from tasks.ner.batches import BatchSequence

    feeding = {} if workers is None else {"workers": workers}
    return BatchSequence(data.splits["train"], tp.batch_size, tp.max_word_length, seed=tp.seed, epoch=epoch,
                         word_dropout=tp.word_dropout, **batching(tp, config), **feeding)


def fit(model, data: NerData, tp, state: dict, ckpt: Checkpoint, mlflow, config) -> None:
    """Train from ``state['epoch']`` until the last epoch or early stopping; then restore
    the best epoch's weights.

    One ``model.fit`` call per epoch, each on that epoch's own batches: Keras fixes the
    step count when a call starts, so a sequence reshuffled inside one call over many
    epochs could hold more document batches than the steps run, and lost the rest
    (benchmarks/ner_fit_calls.py; the speed is the same either way, within noise)."""
    from tasks.common.epochs import EpochReporter

    reporter = EpochReporter("train_ner", tp.epochs, epoch_scorer(model, data, tp, state, ckpt, config),
                             mlflow=mlflow)
    callbacks = [c for c in (rate_schedule(tp), reporter) if c is not None]
    while not finished(state, tp):
        epoch = state["epoch"]
        model.fit(epoch_batches(data, tp, config, epoch), epochs=epoch + 1, initial_epoch=epoch,
                  callbacks=callbacks, verbose=0)
    model.load_weights(ckpt.best_weights)
    print(f"restored best epoch {state['best_epoch']} (dev F1 {state['best_f1']:.4f})", flush=True)


def score_splits(model, data: NerData, tp, config) -> tuple[dict, str]:
    """Span scores on dev and test, and the test predictions as text."""
    from tasks.ner.span_f1 import span_scores

    results, test_pred = {}, ""
    for name in ("dev", "test"):
        gold = gold_tags(data.splits[name], data.labels)
        pred = predict_tags(model, data.splits[name], data.labels, tp.batch_size, tp.max_word_length,
                            **batching(tp, config))
        results[name] = span_scores(gold, pred)
        if name == "test":
            test_pred = predictions_text(data.splits["test"], gold, pred)
    return results, test_pred


def write_outputs(model, params: NerParams, config, vocab: dict, results: dict, test_pred: str,
                  history: list[dict]) -> None:
    with atomic_path(paths.NER_ARTIFACTS) as tmp:
        tmp.mkdir(parents=True)
        model.save(tmp / paths.NER_MODEL.name)
        (tmp / paths.NER_TEST_PREDICTIONS.name).write_text(test_pred, encoding="utf-8")
        (tmp / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        (tmp / paths.NER_MODEL_INFO.name).write_text(json.dumps(model_info(params, config, vocab), indent=2),
                                                     encoding="utf-8")
    write_text(paths.NER_HISTORY, csv_text(history))
    write_text(paths.NER_PER_TYPE, csv_text([{"type": t, **sc} for t, sc in results["test"]["per_type"].items()]))
    write_json(paths.NER_METRICS, results)


def train(params: NerParams, mlflow=None) -> dict:
    """Train, select, score; write artifacts/ner, metrics/ner.json and the plot CSVs.
    ``mlflow`` (optional) receives per-epoch metrics."""
    import keras

    from tasks.common.seeding import seed_everything

    tp = params.train
    threads = use_cpu_threads()
    seed_everything(tp.seed)
    if tp.mixed_precision:
        keras.mixed_precision.set_dtype_policy("mixed_float16")
    print(f"device: {describe_device()}" + (f", {INTRA_OP_THREADS} thread(s) per op" if threads else ""), flush=True)
    config = model_config(params)
    data = load_prepared(paths.NER_PREPARED, config.tag_scheme)
    print(f"model: {params.model.preset} {config}", flush=True)
    ckpt = Checkpoint(checkpoint_dir(params, paths.NER_PREPARED))
    model, state = build_or_resume(config, data, tp.learning_rate, ckpt, tp.clip_norm)
    model.summary(print_fn=lambda line, *a, **k: print(line), line_length=110)
    fit(model, data, tp, state, ckpt, mlflow, config)
    scores, test_pred = score_splits(model, data, tp, config)
    results: dict = {"best_epoch": state["best_epoch"], "epochs_run": state["epoch"], **scores}
    write_outputs(model, params, config, data.vocab, results, test_pred, state["history"])
    shutil.rmtree(ckpt.folder, ignore_errors=True)  # finished: the outputs now live in DVC's cache
    return results
