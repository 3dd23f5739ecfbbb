"""GraphSAGE trained (unsupervised) on the RWR sample, then used inductively to embed
every article of the full graph from its text features (the train_sage stage's work)."""
from __future__ import annotations

import time

import keras
import numpy as np

from tasks.common import paths
from tasks.common.files import atomic_path, save_npy, write_csv, write_json
from tasks.common.params import Params
from tasks.tags.graph import Graph, degree_negatives, neighbourhood_tree, random_walk_ends
from tasks.tags.graph_io import load_graph


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


def fit_and_embed(p, mlflow=None) -> tuple[keras.Model, np.ndarray, list[dict], dict]:
    """Train on the sample, embed the full graph (``p``: the tags.sage params); writes
    nothing (the benchmark uses it)."""
    from models.graphsage import build_encoder, build_trainer, unsupervised_loss
    from tasks.common.seeding import seed_everything

    seed_everything(p.seed)
    features = np.load(paths.TEXT_EMBEDDINGS)
    sample, nodes = load_graph(paths.SAMPLE)
    full, _ = load_graph(paths.GRAPH)
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


def model_info(params: Params, feature_dim: int) -> dict:
    """What inductive inference needs besides the weights: how the graph was projected
    (a new article's neighbours are scored the same way) and how trees are sampled."""
    t = params.tags
    return {"projection": t.projection.model_dump(), "sampling": t.sampling.model_dump(), "sage": t.sage.model_dump(),
            "feature_dim": feature_dim, "text_encoder": t.text.encoder}


def train(params: Params, mlflow=None) -> dict:
    """Fit, embed; write the embeddings, the encoder and its info, the loss curve, metrics."""
    encoder, embeddings, history, stats = fit_and_embed(params.tags.sage, mlflow)
    save_npy(paths.SAGE_EMBEDDINGS, embeddings)
    with atomic_path(paths.SAGE_ENCODER) as tmp:
        encoder.save(tmp)
    write_json(paths.SAGE_INFO, model_info(params, int(encoder.inputs[0].shape[-1])))
    write_csv(paths.SAGE_LOSS, [(h["epoch"], h["loss"]) for h in history], ("epoch", "loss"))
    write_json(paths.SAGE_METRICS, stats)
    return stats
