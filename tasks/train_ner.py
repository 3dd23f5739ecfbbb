"""Stage train_ner: train a GCN tagger, select the epoch by dev F1, score dev and test.

Writes ``artifacts/ner/`` (model.keras, test_predictions.txt), ``metrics/ner.json`` and
``plots/ner/*.csv``; logs params, per-epoch and final metrics and artifacts to MLflow.
An interrupted run resumes from its last epoch checkpoint in ``.cache/train_ner/``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np

from tasks.io import atomic_path, run_main, write_json, write_text
from tasks.params import NerParams, load_params

PREPARED = Path("data/prepared/ner")
ARTIFACTS = Path("artifacts/ner")
METRICS = Path("metrics/ner.json")
PLOTS = Path("plots/ner")
CHECKPOINTS = Path(".cache/train_ner")


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
    if backend == "torch":
        import torch

        return f"torch, {'GPU: ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'}"
    return backend


def predict_tags(model, split, labels: list[str], batch_size: int, max_word_length: int) -> list[list[str]]:
    from tasks.ner_data import bucketed_batches, make_batch

    out: list[list[str]] = [[] for _ in range(len(split))]
    for idx in bucketed_batches(split.lengths, batch_size, rng=None):
        x, _, _ = make_batch(split, idx, max_word_length)
        probs = np.asarray(model.predict_on_batch(x))
        for row, i in enumerate(idx):
            out[i] = [labels[k] for k in probs[row, :len(split.word[i])].argmax(-1)]
    return out


def gold_tags(split, labels: list[str]) -> list[list[str]]:
    return [[labels[k] for k in sent] for sent in split.label]


def checkpoint_dir(params: NerParams) -> Path:
    key = json.dumps({"model": params.model.model_dump(), "train": params.train.model_dump()}, sort_keys=True)
    key += (PREPARED / "vocab.json").read_text(encoding="utf-8")
    return CHECKPOINTS / hashlib.sha256(key.encode()).hexdigest()[:16]


def predictions_text(split, gold: list[list[str]], pred: list[list[str]]) -> str:
    buf = io.StringIO()
    for tokens, g, p in zip(split.tokens, gold, pred):
        for t, gt, pt in zip(tokens, g, p):
            buf.write(f"{t} {gt} {pt}\n")
        buf.write("\n")
    return buf.getvalue()


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def train(params: NerParams, mlflow=None) -> dict:
    """Pure stage function (files in, files out); ``mlflow`` receives per-epoch metrics."""
    import keras

    from models.ner import build_ner_model, resolve_config
    from tasks.ner_data import BatchSequence, load_split, load_vocab
    from tasks.span_f1 import span_scores

    tp = params.train
    keras.utils.set_random_seed(tp.seed)
    if tp.mixed_precision:
        keras.mixed_precision.set_dtype_policy("mixed_float16")
    print(f"device: {describe_device()}", flush=True)
    vocab = load_vocab(PREPARED)
    labels = vocab["labels"]
    splits = {name: load_split(PREPARED / f"{name}.npz") for name in ("train", "dev", "test")}
    embeddings = np.load(PREPARED / "embeddings.npy")
    m = params.model
    config = resolve_config(m.preset, dropout=m.dropout, combine=m.combine, num_bases=m.num_bases,
                            gcn_units=m.gcn_units, context_units=m.context_units, char_filters=m.char_filters)
    print(f"model: {m.preset} {config}", flush=True)

    ckpt = checkpoint_dir(params)
    state_file, last_model, best_weights = ckpt / "state.json", ckpt / "last.keras", ckpt / "best.weights.h5"
    if state_file.is_file() and last_model.is_file():
        state = json.loads(state_file.read_text())
        model = keras.models.load_model(last_model)
        print(f"resuming from epoch {state['epoch']} (checkpoint {ckpt})", flush=True)
    else:
        state = {"epoch": 0, "best_f1": -1.0, "best_epoch": 0, "history": []}
        model = build_ner_model(config, vocab_size=len(vocab["words"]), embedding_dim=embeddings.shape[1],
                                num_chars=len(vocab["chars"]), num_labels=len(labels),
                                num_dep_labels=len(vocab["relations"]))
        model.get_layer("word_embedding").set_weights([embeddings])
        model.compile(optimizer=keras.optimizers.Adam(tp.learning_rate),
                      loss="sparse_categorical_crossentropy")
    model.summary(print_fn=lambda line, *a, **k: print(line), line_length=110)
    dev_gold = gold_tags(splits["dev"], labels)

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.t0
            dev = span_scores(dev_gold, predict_tags(self.model, splits["dev"], labels, 64, tp.max_word_length))
            row = {"epoch": epoch + 1, "train_loss": float(logs["loss"]), "dev_precision": dev["precision"],
                   "dev_recall": dev["recall"], "dev_f1": dev["f1"], "seconds": seconds}
            state["history"].append(row)
            state["epoch"] = epoch + 1
            improved = dev["f1"] > state["best_f1"]
            ckpt.mkdir(parents=True, exist_ok=True)
            if improved:
                state["best_f1"], state["best_epoch"] = dev["f1"], epoch + 1
                self.model.save_weights(best_weights)
            self.model.save(last_model)
            write_json(state_file, state)
            print(f"epoch {epoch + 1}/{tp.epochs}: loss {row['train_loss']:.4f}  dev P {dev['precision']:.4f} "
                  f"R {dev['recall']:.4f} F1 {dev['f1']:.4f}{'  *best*' if improved else ''}  ({seconds:.0f}s)",
                  flush=True)
            if mlflow is not None:
                mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=epoch + 1)
            if state["epoch"] - state["best_epoch"] >= tp.patience:
                print(f"early stop: no dev F1 gain for {tp.patience} epochs", flush=True)
                self.model.stop_training = True

    done = state["epoch"] >= tp.epochs or state["epoch"] - state["best_epoch"] >= tp.patience
    if not done:
        train_seq = BatchSequence(splits["train"], tp.batch_size, tp.max_word_length, seed=tp.seed,
                                  epoch=state["epoch"])
        model.fit(train_seq, epochs=tp.epochs, initial_epoch=state["epoch"], callbacks=[EpochEnd()], verbose=2)
    model.load_weights(best_weights)
    print(f"restored best epoch {state['best_epoch']} (dev F1 {state['best_f1']:.4f})", flush=True)

    results: dict = {"best_epoch": state["best_epoch"], "epochs_run": state["epoch"]}
    test_pred = None
    for name in ("dev", "test"):
        gold = gold_tags(splits[name], labels)
        pred = predict_tags(model, splits[name], labels, 64, tp.max_word_length)
        results[name] = span_scores(gold, pred)
        if name == "test":
            test_pred = predictions_text(splits["test"], gold, pred)
    with atomic_path(ARTIFACTS) as tmp:
        tmp.mkdir(parents=True)
        model.save(tmp / "model.keras")
        (tmp / "test_predictions.txt").write_text(test_pred, encoding="utf-8")
    per_type = [{"type": t, **sc} for t, sc in results["test"]["per_type"].items()]
    write_text(PLOTS / "history.csv", csv_text(state["history"]))
    write_text(PLOTS / "per_type.csv", csv_text(per_type))
    write_json(METRICS, results)
    shutil.rmtree(ckpt, ignore_errors=True)  # finished: the outputs now live in DVC's cache
    return results


def plot_curves(history_csv: Path, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    h = pd.read_csv(history_csv)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    a.plot(h["epoch"], h["train_loss"]); a.set_title("train loss"); a.set_xlabel("epoch")
    b.plot(h["epoch"], h["dev_f1"], label="F1"); b.plot(h["epoch"], h["dev_precision"], label="precision")
    b.plot(h["epoch"], h["dev_recall"], label="recall"); b.set_title("dev (strict span)"); b.legend(); b.set_xlabel("epoch")
    fig.tight_layout(); fig.savefig(out_png, dpi=100); plt.close(fig)


def main() -> None:
    import tempfile

    from tasks.params import flatten
    from tasks.tracking import log_metrics_tree, quiet_environment, stage_run

    quiet_environment()
    params = load_params()
    ner = params.ner
    sub = flatten({"ner": {"model": ner.model.model_dump(), "train": ner.train.model_dump()}})
    with stage_run("train_ner", "ner", sub) as mlflow:
        results = train(ner, mlflow)
        log_metrics_tree(mlflow, {k: results[k] for k in ("dev", "test")})
        for path in (METRICS, PLOTS / "history.csv", PLOTS / "per_type.csv", ARTIFACTS / "test_predictions.txt"):
            mlflow.log_artifact(str(path))
        mlflow.log_artifact(str(ARTIFACTS / "model.keras"), artifact_path="model")
        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "ner_curves.png"
            plot_curves(PLOTS / "history.csv", png)
            mlflow.log_artifact(str(png))
    t = results["test"]
    print(f"test: P {t['precision']:.4f} R {t['recall']:.4f} F1 {t['f1']:.4f}")


if __name__ == "__main__":
    run_main(main)
