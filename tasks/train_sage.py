"""Stage train_sage: GraphSAGE trained (unsupervised) on the RWR sample, then used
inductively to embed every article of the full graph from its text features."""
from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np

from tasks.graph import Graph, degree_negatives, neighbourhood_tree, random_walk_ends
from tasks.io import atomic_path, run_main, save_npy, write_json, write_text
from tasks.params import TagsParams, load_params
from tasks.paths import GRAPH, SAGE_EMBEDDINGS, SAGE_ENCODER, SAMPLE, TEXT_EMBEDDINGS
from tasks.project_graph import load_graph

OUT = SAGE_EMBEDDINGS
MODEL = SAGE_ENCODER
METRICS = Path("metrics/tags_sage.json")
LOSS_CSV = Path("plots/tags/sage_loss.csv")


class SageBatches(keras.utils.PyDataset):
    """Per step: targets, random-walk positives, degree^0.75 negatives, and the sampled
    trees of all three, as feature arrays. Deterministic in (seed, epoch, step)."""

    def __init__(self, g: Graph, features: np.ndarray, p, epoch: int = 0):
        super().__init__()
        self.g, self.features, self.p, self.epoch = g, features, p, epoch
        steps = int(np.ceil(g.n / p.batch_size))
        self.steps = min(steps, p.max_iterations) if p.max_iterations else steps
        self._order()

    def _order(self) -> None:
        self.order = np.random.default_rng([self.p.seed, self.epoch]).permutation(self.g.n)

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int):
        rng = np.random.default_rng([self.p.seed, self.epoch, i])
        targets = self.order[(i * self.p.batch_size) % self.g.n:][: self.p.batch_size]
        roles = {"u": targets, "pos": random_walk_ends(self.g, targets, self.p.search_depth, rng),
                 "neg": degree_negatives(self.g, len(targets), rng)}
        x = {}
        for role, nodes in roles.items():
            for k, level in enumerate(neighbourhood_tree(self.g, nodes, self.p.sample_sizes, rng)):
                x[f"{role}{k}"] = self.features[level]
        return x, np.zeros((len(targets), 2), np.float32)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order()


def embed_all(encoder: keras.Model, g: Graph, features: np.ndarray, sample_sizes: list[int], seed: int,
              batch: int = 2048) -> np.ndarray:
    rng = np.random.default_rng([seed, 99])
    out = np.zeros((g.n, encoder.output.shape[-1]), np.float32)
    for start in range(0, g.n, batch):
        nodes = np.arange(start, min(start + batch, g.n))
        levels = neighbourhood_tree(g, nodes, sample_sizes, rng)
        out[nodes] = np.asarray(encoder.predict_on_batch([features[level] for level in levels]))
    return out


def fit_and_embed(params: TagsParams, mlflow=None) -> tuple[keras.Model, np.ndarray, list[dict], dict]:
    """Train on the sample, embed the full graph; writes nothing (the benchmark uses it)."""
    from models.graphsage import build_encoder, build_trainer, unsupervised_loss

    p = params.sage
    keras.utils.set_random_seed(p.seed)
    features = np.load(TEXT_EMBEDDINGS)
    sample, nodes = load_graph(SAMPLE)
    full, _ = load_graph(GRAPH)
    encoder = build_encoder(features.shape[1], p.sample_sizes, p.embedding_dimension, p.aggregator, p.activation)
    trainer = build_trainer(encoder)
    trainer.compile(optimizer=keras.optimizers.Adam(p.learning_rate), loss=unsupervised_loss(p.negative_sample_weight))
    batches = SageBatches(sample, features[nodes], p)
    history: list[dict] = []

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            loss, seconds = float(logs["loss"]), time.perf_counter() - self.t0
            history.append({"epoch": epoch + 1, "loss": loss, "seconds": seconds})
            print(f"epoch {epoch + 1}/{p.epochs}: loss {loss:.4f} ({seconds:.1f}s)", flush=True)
            if mlflow is not None:
                mlflow.log_metric("loss", loss, step=epoch + 1)
            if len(history) > 1 and abs(history[-2]["loss"] - loss) < p.tolerance:
                print(f"converged: loss changed by less than {p.tolerance}", flush=True)
                self.model.stop_training = True

    t0 = time.perf_counter()
    trainer.fit(batches, epochs=p.epochs, callbacks=[EpochEnd()], verbose=0)
    train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    embeddings = embed_all(encoder, full, features, p.sample_sizes, p.seed)
    embed_seconds = time.perf_counter() - t0
    targets_seen = len(history) * batches.steps * p.batch_size
    stats = {"epochs_run": len(history), "first_loss": history[0]["loss"], "final_loss": history[-1]["loss"],
             "train_seconds": train_seconds, "train_target_nodes_per_s": targets_seen / train_seconds,
             "embed_seconds": embed_seconds, "embedded_nodes": int(full.n), "sample_nodes": int(sample.n)}
    print(f"trained on {sample.n} sampled articles in {train_seconds:.1f}s; embedded {full.n} in {embed_seconds:.1f}s")
    return encoder, embeddings, history, stats


def train(params: TagsParams, mlflow=None) -> dict:
    """Pure stage function: fit, embed, write the embeddings, model, loss curve, metrics."""
    encoder, embeddings, history, stats = fit_and_embed(params, mlflow)
    save_npy(OUT, embeddings)
    with atomic_path(MODEL) as tmp:
        encoder.save(tmp)
    write_text(LOSS_CSV, "epoch,loss\n" + "".join(f"{h['epoch']},{h['loss']}\n" for h in history))
    write_json(METRICS, stats)
    return stats


def main() -> None:
    from tasks import figures
    from tasks.params import flatten
    from tasks.tracking import stage_run

    params = load_params().tags
    with stage_run("train_sage", "tags", flatten({"tags": {"sage": params.sage.model_dump()}})) as mlflow:
        stats = train(params, mlflow)
        mlflow.log_metrics({k: float(v) for k, v in stats.items()})
        import pandas as pd
        import tempfile

        h = pd.read_csv(LOSS_CSV)
        with tempfile.TemporaryDirectory() as tmp:
            png = figures.line(h["epoch"], {"loss": h["loss"]}, "GraphSAGE unsupervised loss", "epoch",
                               Path(tmp) / "sage_loss.png")
            mlflow.log_artifact(str(png), artifact_path="figures")
        mlflow.log_artifact(str(MODEL), artifact_path="model")
        mlflow.log_artifact(str(METRICS))


if __name__ == "__main__":
    run_main(main)
