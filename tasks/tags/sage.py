"""GraphSAGE trained (unsupervised) on the RWR sample or the whole graph, then used
inductively to embed every article of the full graph from its text features (the
train_sage stage's work): one run per seed of ``tags.evaluate.seeds``."""
from __future__ import annotations

import time

import keras
import numpy as np

from tasks.common import paths
from tasks.common.epochs import EpochReporter, EpochResult
from tasks.common.files import atomic_path, save_npy, write_csv, write_json
from tasks.common.params import Params, TagsParams
from tasks.tags.graph import Graph, degree_negatives, neighbourhood_tree, random_walk_ends
from tasks.tags.graph_io import load_graph


class SageBatches(keras.utils.PyDataset):
    """Per step: targets, random-walk positives, degree^0.75 negatives, and the sampled
    trees of all three, as feature arrays. Deterministic in (seed, epoch, step)."""

    def __init__(self, g: Graph, features: np.ndarray, p, seed: int, epoch: int = 0):
        super().__init__()
        self.g, self.features, self.p, self.seed, self.epoch = g, features, p, seed, epoch
        steps = int(np.ceil(g.n / p.batch_size))
        self.steps = min(steps, p.max_iterations) if p.max_iterations else steps
        self._order()

    def _order(self) -> None:
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(self.g.n)

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int):
        rng = np.random.default_rng([self.seed, self.epoch, i])
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


def fit_and_embed(p, seed: int, mlflow=None, metric: str = "loss") -> tuple[keras.Model, np.ndarray, list[dict], dict]:
    """Train one encoder (``p``: a resolved models.graphsage.SageConfig), embed the full
    graph; writes nothing (the benchmark uses it). Epoch losses go to MLflow as ``metric``."""
    from models.graphsage import build_encoder, build_trainer, unsupervised_loss
    from tasks.common.seeding import seed_everything

    seed_everything(seed)
    features = np.load(paths.TEXT_EMBEDDINGS)
    full, _ = load_graph(paths.GRAPH)
    if p.train_on == "sample":
        train_graph, nodes = load_graph(paths.SAMPLE)
        train_features = features[nodes]
    else:
        train_graph, train_features = full, features
    sample_sizes = list(p.sample_sizes)
    encoder = build_encoder(features.shape[1], sample_sizes, p.embedding_dimension, p.aggregator, p.activation,
                            p.concat, p.output_activation)
    trainer = build_trainer(encoder, p.negatives, p.temperature)
    trainer.compile(optimizer=keras.optimizers.Adam(p.learning_rate), loss=unsupervised_loss(p.negative_sample_weight))
    batches = SageBatches(train_graph, train_features, p, seed)
    history: list[dict] = []

    def score(epoch: int, logs: dict, seconds: float) -> EpochResult:
        loss = float(logs["loss"])
        history.append({"epoch": epoch, "loss": loss, "seconds": seconds})
        converged = len(history) > 1 and abs(history[-2]["loss"] - loss) < p.tolerance
        return EpochResult(f"seed {seed} epoch {epoch}/{p.epochs}: loss {loss:.4f} ({seconds:.1f}s)", {"loss": loss},
                           logged={metric: loss},
                           stop=f"converged: loss changed by less than {p.tolerance}" if converged else None)

    reporter = EpochReporter("train_sage", p.epochs, score, run=f"seed {seed}", mlflow=mlflow)
    t0 = time.perf_counter()
    trainer.fit(batches, epochs=p.epochs, callbacks=[reporter], verbose=0)
    train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    embeddings = embed_all(encoder, full, features, sample_sizes, seed)
    embed_seconds = time.perf_counter() - t0
    targets_seen = len(history) * batches.steps * p.batch_size
    stats = {"epochs_run": len(history), "first_loss": history[0]["loss"], "final_loss": history[-1]["loss"],
             "train_seconds": train_seconds, "train_target_nodes_per_s": targets_seen / train_seconds,
             "embed_seconds": embed_seconds, "embedded_nodes": int(full.n), "train_nodes": int(train_graph.n)}
    print(f"seed {seed}: trained on {train_graph.n} articles in {train_seconds:.1f}s; embedded {full.n} in "
          f"{embed_seconds:.1f}s", flush=True)
    return encoder, embeddings, history, stats


def sage_config(params: TagsParams):
    """The resolved GraphSAGE configuration of ``tags.sage`` (preset + overrides)."""
    from models.graphsage import resolve_config

    overrides = params.sage.model_dump()
    return resolve_config(overrides.pop("preset"), **overrides)


def model_info(params: TagsParams, config, feature_dim: int) -> dict:
    """What inductive inference needs besides the weights: how the graph was projected
    (a new article's neighbours are scored the same way) and how trees are sampled."""
    import dataclasses

    sage = {**dataclasses.asdict(config), "sample_sizes": list(config.sample_sizes), "preset": params.sage.preset,
            "seed": params.evaluate.seeds[0]}
    return {"projection": params.projection.model_dump(), "sampling": params.sampling.model_dump(), "sage": sage,
            "feature_dim": feature_dim, "text_encoder": params.text.encoder}


def loss_rows(histories: list[list[dict]]) -> list[tuple]:
    """(epoch, mean loss over the seeds that ran it, each seed's loss or "")."""
    rows = []
    for e in range(max(len(h) for h in histories)):
        losses = [h[e]["loss"] if e < len(h) else "" for h in histories]
        rows.append((e + 1, float(np.mean([x for x in losses if x != ""])), *losses))
    return rows


def train(params: Params, mlflow=None) -> dict:
    """One run per seed; write every seed's embeddings (seeds x articles x dim), the first
    seed's encoder and its info, the loss curves (a column per seed), and metrics."""
    t = params.tags
    config = sage_config(t)
    print(f"GraphSAGE preset {t.sage.preset}: {config}", flush=True)
    # MLflow's "loss" curve is the served (first) seed's; the others are loss_seed_<seed>.
    runs = [fit_and_embed(config, seed, mlflow, "loss" if i == 0 else f"loss_seed_{seed}")
            for i, seed in enumerate(t.evaluate.seeds)]
    encoder = runs[0][0]
    save_npy(paths.SAGE_EMBEDDINGS, np.stack([run[1] for run in runs]))
    with atomic_path(paths.SAGE_ENCODER) as tmp:
        encoder.save(tmp)
    write_json(paths.SAGE_INFO, model_info(t, config, int(encoder.inputs[0].shape[-1])))
    write_csv(paths.SAGE_LOSS, loss_rows([run[2] for run in runs]),
              ("epoch", "loss", *(f"seed_{s}" for s in t.evaluate.seeds)))
    stats = {"preset": t.sage.preset, **runs[0][3],
             "per_seed": {str(s): run[3] for s, run in zip(t.evaluate.seeds, runs)}}
    write_json(paths.SAGE_METRICS, stats)
    return stats
