"""GraphSAGE trained (unsupervised) on the RWR sample or the whole graph, then used
inductively to embed every article of the full graph from its text features (the
train_sage stage's work): one run per seed of ``tags.evaluate.seeds``."""
from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np

from tasks.common import paths
from tasks.common.epochs import EpochReporter, EpochResult
from tasks.common.files import atomic_path, save_npy, save_npz, write_csv, write_json
from tasks.common.params import Params, TagsParams
from tasks.tags.graph import Graph, degree_negatives, neighbourhood_tree, random_walk_ends
from tasks.tags.graph_io import load_graph


@dataclass(frozen=True)
class SplitLabels:
    """The train split's tags (the only labels a loss sees) and validation's (for stopping)."""

    train_rows: np.ndarray   # article (= graph node) indices
    train_Y: np.ndarray
    validation_rows: np.ndarray
    validation_Y: np.ndarray


class SageBatches(keras.utils.PyDataset):
    """Per step: targets, random-walk positives, degree^0.75 negatives, and the sampled
    trees of all three, as feature arrays. Deterministic in (seed, epoch, step).

    With ``labels`` (supervised): targets are drawn from the train rows only and the
    batch carries their tags; ``pairs=False`` leaves out positives and negatives.

    Two worker threads build the batches (Keras's ordered enqueuer, restarted each epoch:
    the same batches in the same order, so the same weights) while the model trains on
    the one before: building a batch (sampling, gathering features) took about half of a
    13 ms step of the unsupervised ``default`` preset (benchmarks/sage_feeding.py times
    both ways). Restarting them costs about 0.1 s at each epoch's end (Keras drains their
    queue), more than a short epoch gains: an epoch of fewer than ``THREADED_STEPS``
    steps (the tests' tiny graphs) is fed the plain way."""

    WORKERS = 2          # ``workers=1``: Keras builds each batch when the step asks for it
    THREADED_STEPS = 50  # from this many steps per epoch, ``workers=None`` means WORKERS

    def __init__(self, g: Graph, features: np.ndarray, p, seed: int, epoch: int = 0,
                 labels: SplitLabels | None = None, pairs: bool = True, workers: int | None = None):
        self.g, self.features, self.p, self.seed, self.epoch = g, features, p, seed, epoch
        self.labels, self.pairs = labels, pairs
        self.pool = labels.train_rows if labels is not None else np.arange(g.n)
        self.tags = None
        if labels is not None:
            self.tags = np.zeros((g.n, labels.train_Y.shape[1]), np.float32)
            self.tags[labels.train_rows] = labels.train_Y
        steps = int(np.ceil(len(self.pool) / p.batch_size))
        self.steps = min(steps, p.max_iterations) if p.max_iterations else steps
        if workers is None:
            workers = self.WORKERS if self.steps >= self.THREADED_STEPS else 1
        super().__init__(workers=workers)
        self._order()

    def _order(self) -> None:
        self.order = self.pool[np.random.default_rng([self.seed, self.epoch]).permutation(len(self.pool))]

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int):
        rng = np.random.default_rng([self.seed, self.epoch, i])
        targets = self.order[(i * self.p.batch_size) % len(self.order):][: self.p.batch_size]
        roles = {"u": targets}
        if self.pairs:
            roles.update(pos=random_walk_ends(self.g, targets, self.p.search_depth, rng),
                         neg=degree_negatives(self.g, len(targets), rng))
        x = {}
        for role, nodes in roles.items():
            for k, level in enumerate(neighbourhood_tree(self.g, nodes, self.p.sample_sizes, rng)):
                x[f"{role}{k}"] = self.features[level]
        pair_targets = np.zeros((len(targets), 2), np.float32)
        if self.labels is None:
            return x, pair_targets
        y = {"tags": self.tags[targets]}
        if self.pairs:
            y["pairs"] = pair_targets
        return x, y

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order()


def embed_all(encoder: keras.Model, g: Graph, features: np.ndarray, sample_sizes: list[int], seed: int,
              batch: int = 2048, nodes: np.ndarray | None = None) -> np.ndarray:
    """Embeddings of ``nodes`` (default: every node), in that order."""
    rng = np.random.default_rng([seed, 99])
    nodes = np.arange(g.n) if nodes is None else np.asarray(nodes)
    out = np.zeros((len(nodes), encoder.output.shape[-1]), np.float32)
    for start in range(0, len(nodes), batch):
        part = slice(start, min(start + batch, len(nodes)))
        levels = neighbourhood_tree(g, nodes[part], sample_sizes, rng)
        out[part] = np.asarray(encoder.predict_on_batch([features[level] for level in levels]))
    return out


def compiled_trainer(encoder: keras.Model, p, tags: int) -> keras.Model:
    """The model ``fit`` trains for ``p.objective`` (the encoder's weights are shared)."""
    from models.graphsage import build_supervised_trainer, build_trainer, unsupervised_loss

    optimizer = keras.optimizers.Adam(p.learning_rate)
    if p.objective == "unsupervised":
        trainer = build_trainer(encoder, p.negatives, p.temperature)
        trainer.compile(optimizer=optimizer, loss=unsupervised_loss(p.negative_sample_weight))
        return trainer
    pairs = p.unsupervised_weight > 0
    trainer = build_supervised_trainer(encoder, tags, pairs, p.negatives, p.temperature)
    losses = {"tags": keras.losses.BinaryCrossentropy(from_logits=True)}
    weights = {"tags": 1.0}
    if pairs:
        losses["pairs"], weights["pairs"] = unsupervised_loss(p.negative_sample_weight), p.unsupervised_weight
    trainer.compile(optimizer=optimizer, loss=losses, loss_weights=weights)
    return trainer


def validation_lrap(trainer: keras.Model, encoder: keras.Model, g: Graph, features: np.ndarray, p,
                    labels: SplitLabels, seed: int) -> float:
    """LRAP of the tag head on the validation rows (fixed trees: comparable across epochs)."""
    from tasks.tags.scoring import lrap

    head = trainer.get_layer("tag_head")
    z = embed_all(encoder, g, features, list(p.sample_sizes), seed, nodes=labels.validation_rows)
    return lrap(labels.validation_Y, np.asarray(head(z)))


def fit_and_embed(p, seed: int, mlflow=None, metric: str = "loss",
                  labels: SplitLabels | None = None) -> tuple[keras.Model, np.ndarray, list[dict], dict]:
    """Train one encoder (``p``: a resolved models.graphsage.SageConfig) on the prepared
    graph and text, embed the full graph; writes nothing (the benchmarks use it)."""
    features = np.load(paths.TEXT_EMBEDDINGS)
    full, _ = load_graph(paths.GRAPH)
    sample = None
    if p.train_on == "sample" and p.objective != "supervised":
        sample = load_graph(paths.SAMPLE)
    return train_encoder(p, seed, full, features, sample, labels, mlflow, metric)


def train_encoder(p, seed: int, full: Graph, features: np.ndarray, sample: tuple[Graph, np.ndarray] | None = None,
                  labels: SplitLabels | None = None, mlflow=None,
                  metric: str = "loss") -> tuple[keras.Model, np.ndarray, list[dict], dict]:
    """Train on ``sample`` (its graph and node ids) or the full graph, embed every node.
    Epoch losses go to MLflow as ``metric``. ``labels`` (the seed's split) is required by
    the supervised objective and used by no other; supervised training keeps the weights
    of the best validation epoch."""
    from models.graphsage import build_encoder
    from tasks.common.seeding import seed_everything

    if p.objective == "supervised" and labels is None:
        raise ValueError("the supervised GraphSAGE objective needs the split's labels")
    seed_everything(seed)
    # supervised: the train split's articles are nodes of the full graph
    train_graph, train_features = (sample[0], features[sample[1]]) if sample is not None else (full, features)
    encoder = build_encoder(features.shape[1], list(p.sample_sizes), p.embedding_dimension, p.aggregator,
                            p.activation, p.concat, p.output_activation)
    history: list[dict] = []
    t0 = time.perf_counter()
    if p.objective != "none":
        supervised = labels if p.objective == "supervised" else None
        trainer = compiled_trainer(encoder, p, 0 if supervised is None else labels.train_Y.shape[1])
        batches = SageBatches(train_graph, train_features, p, seed, labels=supervised,
                              pairs=supervised is None or p.unsupervised_weight > 0)
        score = epoch_scorer(p, seed, metric, history, trainer, encoder, full, features, supervised)
        reporter = EpochReporter("train_sage", p.epochs, score, run=f"seed {seed}", mlflow=mlflow)
        trainer.fit(batches, epochs=p.epochs, callbacks=[reporter], verbose=0)
        if supervised is not None:  # the best validation epoch's weights
            encoder.set_weights(max(history, key=lambda h: h["validation_lrap"])["weights"])
            for h in history:
                h.pop("weights")
    train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    embeddings = embed_all(encoder, full, features, list(p.sample_sizes), seed)
    embed_seconds = time.perf_counter() - t0
    stats = {"epochs_run": len(history), "train_seconds": train_seconds, "embed_seconds": embed_seconds,
             "embedded_nodes": int(full.n), "train_nodes": int(train_graph.n)}
    if history:
        stats.update(first_loss=history[0]["loss"], final_loss=history[-1]["loss"])
    if p.objective == "supervised":
        stats["best_validation_lrap"] = max(h["validation_lrap"] for h in history)
    print(f"seed {seed}: trained ({p.objective}) on {train_graph.n} articles in {train_seconds:.1f}s; "
          f"embedded {full.n} in {embed_seconds:.1f}s", flush=True)
    return encoder, embeddings, history, stats


def epoch_scorer(p, seed, metric, history, trainer, encoder, full, features, labels: SplitLabels | None):
    """The EpochReporter's per-epoch score: the loss (unsupervised: stop when it settles);
    supervised: also validation LRAP, stopping after ``p.patience`` epochs without a better one."""

    def score(epoch: int, logs: dict, seconds: float) -> EpochResult:
        loss = float(logs["loss"])
        row = {"epoch": epoch, "loss": loss, "seconds": seconds}
        text = f"seed {seed} epoch {epoch}/{p.epochs}: loss {loss:.4f}"
        stop = None
        if labels is None:
            converged = bool(history) and abs(history[-1]["loss"] - loss) < p.tolerance
            stop = f"converged: loss changed by less than {p.tolerance}" if converged else None
        else:
            row["validation_lrap"] = validation_lrap(trainer, encoder, full, features, p, labels, seed)
            row["weights"] = encoder.get_weights()
            best = max([h["validation_lrap"] for h in history] + [row["validation_lrap"]])
            text += f"  validation LRAP {row['validation_lrap']:.4f}" + ("  *best*" if best == row["validation_lrap"] else "")
            since = next((i for i, h in enumerate(reversed(history + [row])) if h["validation_lrap"] == best), 0)
            stop = f"validation LRAP not better for {p.patience} epochs" if since >= p.patience else None
        history.append(row)
        return EpochResult(f"{text} ({seconds:.1f}s)", {k: v for k, v in row.items() if k in ("loss", "validation_lrap")},
                           logged={metric: loss}, stop=stop)

    return score


def sage_config(params: TagsParams):
    """The resolved GraphSAGE configuration of ``tags.sage`` (preset + overrides)."""
    from models.graphsage import resolve_config

    overrides = params.sage.model_dump(exclude={"compare"})
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
    for e in range(max((len(h) for h in histories), default=0)):
        losses = [h[e]["loss"] if e < len(h) else "" for h in histories]
        rows.append((e + 1, float(np.mean([x for x in losses if x != ""])), *losses))
    return rows


def split_labels(params: TagsParams) -> list[SplitLabels]:
    """Per seed, the train and validation rows of evaluate_tags' split and their tags
    (the same ``three_way_split``); test rows are not read."""
    from tasks.tags.classification import tag_matrix, three_way_split
    from tasks.tags.tables import load_articles

    e = params.evaluate
    _, rows, Y, _ = tag_matrix(load_articles(), e.min_count)
    out = []
    for seed in e.seeds:
        train, validation, _ = three_way_split(Y, e.test_size, e.validation_size, seed)
        out.append(SplitLabels(rows[train], Y[train], rows[validation], Y[validation]))
    return out


def train_preset(config, params: TagsParams, labels: list[SplitLabels] | None, mlflow=None, prefix: str = ""):
    """One run per seed of ``config``: (runs, embeddings (seeds, articles, dim))."""
    seeds = params.evaluate.seeds
    # MLflow's "loss" curve is the served (first) seed's; the others are loss_seed_<seed>.
    runs = [fit_and_embed(config, seed, mlflow, prefix + ("loss" if i == 0 else f"loss_seed_{seed}"),
                          labels[i] if labels else None)
            for i, seed in enumerate(seeds)]
    return runs, np.stack([run[1] for run in runs])


def train(params: Params, mlflow=None) -> dict:
    """One run per seed; write every seed's embeddings (seeds x articles x dim), the first
    seed's encoder and its info, the loss curves (a column per seed), and metrics. The
    presets of ``tags.sage.compare`` are trained the same way (no overrides) for the
    comparison rows of evaluate_tags (sage_compare.npz)."""
    from models.graphsage import resolve_config

    t = params.tags
    config = sage_config(t)
    needs_labels = config.objective == "supervised" or any(
        resolve_config(name).objective == "supervised" for name in t.sage.compare)
    labels = split_labels(t) if needs_labels else None
    print(f"GraphSAGE preset {t.sage.preset}: {config}", flush=True)
    runs, embeddings = train_preset(config, t, labels, mlflow)
    compared, compare_stats = {}, {}
    for name in t.sage.compare:
        print(f"GraphSAGE comparison preset {name}", flush=True)
        extra, compared[name] = train_preset(resolve_config(name), t, labels, mlflow, prefix=f"{name}_")
        compare_stats[name] = {str(s): run[3] for s, run in zip(t.evaluate.seeds, extra)}
    encoder = runs[0][0]
    save_npy(paths.SAGE_EMBEDDINGS, embeddings)
    save_npz(paths.SAGE_COMPARE, compressed=False, **compared)
    with atomic_path(paths.SAGE_ENCODER) as tmp:
        encoder.save(tmp)
    write_json(paths.SAGE_INFO, model_info(t, config, int(encoder.inputs[0].shape[-1])))
    write_csv(paths.SAGE_LOSS, loss_rows([run[2] for run in runs]),
              ("epoch", "loss", *(f"seed_{s}" for s in t.evaluate.seeds)))
    stats = {"preset": t.sage.preset, **runs[0][3],
             "per_seed": {str(s): run[3] for s, run in zip(t.evaluate.seeds, runs)}, "compare": compare_stats}
    write_json(paths.SAGE_METRICS, stats)
    return stats
