"""Tag inference for a new article: its text and the lists (libraries) it is in.

The new article is added to the trained pipeline inductively, as GraphSAGE allows:
  1. its text is embedded with the saved text encoder (embed_text's formula);
  2. its neighbours are the existing articles that share lists with it, scored by
     Jaccard over list sets with project_graph's parameters (max_list_size,
     degree_cutoff, similarity_cutoff, top_k), as if it were one more row of the
     article x list matrix;
  3. its sampled neighbourhood tree takes level 1 from those neighbours and deeper
     levels from the full graph (an article without neighbours samples itself);
  4. the saved GraphSAGE encoder embeds it, and the concat-feature classifier
     predicts tags from [text, GraphSAGE];
  5. Correct & Smooth puts its neighbours' tags to use: its classifier scores are
     corrected by its neighbours' spread train errors and smoothed with their final
     scores (one more step of each recurrence, tasks/tags/label_methods.py), and the
     per-tag thresholds chosen on validation give ``graph_tags``.
Existing articles keep their neighbours: the new article is not added to their rows.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tasks.common import paths
from tasks.common.files import DataError, read_json
from tasks.tags.graph import Graph, neighbourhood_tree

TRAIN_HINT = "run `dvc repro evaluate_tags` (or `python -m flows.tags`) first"


@dataclass(frozen=True)
class TagModelFiles:
    """Every file tag inference reads; the names are the pyfunc artifact names. The
    two info files make the model describe itself (no dvc.lock, no params.yaml)."""

    text_encoder: Path = paths.TEXT_ENCODER
    sage_encoder: Path = paths.SAGE_ENCODER
    sage_info: Path = paths.SAGE_INFO            # projection, sampling and GraphSAGE settings
    graph: Path = paths.GRAPH
    features: Path = paths.TEXT_EMBEDDINGS  # GraphSAGE's input features of the existing articles
    memberships: Path = paths.ARTICLES / "memberships.parquet"
    classifier: Path = paths.CLASSIFIER
    classifier_info: Path = paths.CLASSIFIER_INFO  # tag order and feature sizes

    def as_dict(self) -> dict[str, Path]:
        return {name: Path(getattr(self, name)) for name in self.__dataclass_fields__}


@dataclass
class TagModel:
    encoder: Any           # tasks.tags.text_encoders.TextEncoder
    sage: Any              # keras.Model: sampled tree levels -> (B, dim)
    graph: Graph           # the full article graph
    features: np.ndarray   # (articles, text dim)
    B: sp.csr_matrix       # article x list incidence
    list_index: dict[str, int]
    classifier: Any        # LabelPowerset fitted on [text, GraphSAGE]
    tags: list[str]
    info: dict             # sage_info.json: {"projection": {...}, "sage": {...}, ...}
    smoothing: dict | None = None  # the classifier's C&S state (evaluation.served_smoothing); None: older model


@dataclass
class TagPrediction:
    tags: list[str]
    top: list[tuple[str, float]]  # highest predict_proba first
    neighbours: int
    best_jaccard: float
    notes: list[str] = field(default_factory=list)
    graph_tags: list[str] = field(default_factory=list)  # C&S scores over the per-tag thresholds


def load_tag_model(files: TagModelFiles = TagModelFiles()) -> TagModel:
    """Load every file of a trained tag model and check that they belong together."""
    import joblib
    import keras

    import models.graphsage  # noqa: F401  (registers SageLayer for load_model)
    from tasks.tags.graph_io import load_graph, membership_incidence
    from tasks.tags.text_encoders import load_encoder

    missing = [str(p) for p in files.as_dict().values() if not Path(p).is_file()]
    if missing:
        raise DataError(missing[0], None, f"no trained tag model yet ({len(missing)} file(s) missing): {TRAIN_HINT}")
    features = np.load(files.features)
    B, names = membership_incidence(pd.read_parquet(files.memberships, columns=["article", "list"]), len(features))
    info, clf_info = read_json(files.sage_info), read_json(files.classifier_info)
    graph, _ = load_graph(files.graph)
    if graph.n != len(features):
        raise DataError(files.graph, None, f"graph has {graph.n} articles but the features {len(features)}: {TRAIN_HINT}")
    if clf_info["text_dim"] != features.shape[1] or info["feature_dim"] != features.shape[1]:
        raise DataError(files.classifier_info, None, f"the model expects {clf_info['text_dim']}-d text features, "
                        f"the text embeddings have {features.shape[1]}: {TRAIN_HINT}")
    served = joblib.load(files.classifier)
    if not isinstance(served, dict):  # a model saved before C&S was served: the classifier alone
        served = {"classifier": served, "smoothing": None}
    return TagModel(load_encoder(files.text_encoder), keras.models.load_model(files.sage_encoder), graph, features,
                    B, {str(name): i for i, name in enumerate(names)}, served["classifier"], clf_info["tags"],
                    info, served["smoothing"])


def inductive_neighbours(B: sp.csr_matrix, query: np.ndarray, similarity_cutoff: float = 1e-42,
                         degree_cutoff: int = 1, top_k: int = 2000, max_list_size: int = 0,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Top-k Jaccard neighbours (ids, scores; best first, ties: lower id) of a new article
    in the lists ``query`` (column ids of ``B``), with jaccard_projection's semantics for
    an extra row of ``B``: list sizes count the new article too."""
    n_lists = B.shape[1]
    q = np.zeros(n_lists, bool)
    q[np.asarray(query, dtype=np.int64)] = True
    sizes = np.asarray(B.sum(axis=0)).ravel() + q
    kept = sizes <= max_list_size if max_list_size else np.ones(n_lists, bool)
    mine = (q & kept).astype(np.float32)
    own_degree = np.float32(mine.sum())
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
    if own_degree < degree_cutoff or own_degree == 0:
        return empty
    degree = np.asarray(B @ kept.astype(np.float32)).ravel().astype(np.float32)
    shared = np.asarray(B @ mine).ravel().astype(np.float32)
    candidates = np.flatnonzero((shared > 0) & (degree >= degree_cutoff))
    s = shared[candidates]
    scores = (s / (own_degree + degree[candidates] - s)).astype(np.float32)
    if similarity_cutoff > 0:
        keep = scores >= similarity_cutoff
        candidates, scores = candidates[keep], scores[keep]
    order = np.lexsort((candidates, -scores))[:top_k]
    return candidates[order].astype(np.int64), scores[order]


def with_new_node(g: Graph, neighbours: np.ndarray, weights: np.ndarray) -> Graph:
    """The graph plus node ``g.n`` whose row holds ``neighbours``; other rows unchanged."""
    adj = g.adj
    indptr = np.append(adj.indptr, adj.indptr[-1] + len(neighbours))
    indices = np.concatenate([adj.indices, neighbours.astype(adj.indices.dtype)])
    data = np.concatenate([adj.data, weights.astype(adj.data.dtype)])
    return Graph(sp.csr_matrix((data, indices, indptr), shape=(g.n + 1, g.n + 1)))


def list_ids(model: TagModel, lists: Sequence[str]) -> np.ndarray:
    unknown = [name for name in dict.fromkeys(lists) if name not in model.list_index]
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        example = next(iter(model.list_index), "?")
        raise DataError("--lists", None, f"unknown list id(s) {shown}: use the `list` values of "
                        f"{paths.ARTICLES / 'memberships.parquet'} (e.g. {example!r})")
    return np.array(sorted({model.list_index[name] for name in lists}), np.int64)


def predict_tags(model: TagModel, text: str, lists: Sequence[str], top: int = 5) -> TagPrediction:
    """Tags for one new article (see the module docstring for the steps)."""
    from tasks.tags.classification import tag_probabilities
    from tasks.tags.text_encoders import encode_texts

    if not text.strip():
        raise DataError("--text", None, "empty text: give the new article's text")
    query = list_ids(model, lists)
    text_emb = encode_texts(model.encoder, [text])
    notes = [] if text_emb.any() else ["no word of the text has a word vector: its text features are zero"]
    nbrs, scores = inductive_neighbours(model.B, query, **model.info["projection"])
    if not len(nbrs):
        notes.append("no neighbours through these lists: GraphSAGE sees the article alone")
    g = with_new_node(model.graph, nbrs, scores)
    features = np.vstack([model.features, text_emb.astype(model.features.dtype)])
    # Seeded as sage.embed_all, so the same input gives the same tags.
    sage_params = model.info["sage"]
    rng = np.random.default_rng([sage_params["seed"], 99])
    levels = neighbourhood_tree(g, np.array([g.n - 1]), sage_params["sample_sizes"], rng)
    sage = np.asarray(model.sage.predict_on_batch([features[level] for level in levels]))
    x = np.hstack([text_emb, sage])
    chosen = np.asarray(model.classifier.predict(x).todense()).ravel().astype(bool)
    proba = tag_probabilities(model.classifier, x).ravel()
    best = np.argsort(-proba, kind="stable")[:top]
    return TagPrediction([t for t, c in zip(model.tags, chosen) if c], [(model.tags[j], float(proba[j])) for j in best],
                         len(nbrs), float(scores[0]) if len(scores) else 0.0, notes,
                         graph_tags(model, proba, nbrs, scores))


def graph_tags(model: TagModel, proba: np.ndarray, neighbours: np.ndarray, weights: np.ndarray) -> list[str]:
    """The new article's tags under C&S and the shared rule (none for an older model)."""
    from tasks.tags.label_methods import Chosen, correct_and_smooth_new

    s = model.smoothing
    if s is None:
        return []
    state = Chosen(s["scores"], s["alphas"], s["errors"], s["sigma"])
    smoothed = correct_and_smooth_new(proba, state, neighbours, weights)
    return [t for t, v, threshold in zip(model.tags, smoothed, s["thresholds"]) if v >= threshold]


def format_prediction(p: TagPrediction) -> str:
    # LabelPowerset predicts the most probable tag *set*; predict_proba gives each tag's
    # marginal probability, so the top tag can lie outside the predicted set.
    lines = [f"tags: {'; '.join(p.tags) if p.tags else '(none)'}",
             f"tags with the neighbours' tags (C&S, per-tag thresholds chosen on validation): "
             f"{'; '.join(p.graph_tags) if p.graph_tags else '(none)'}",
             "top tag probabilities (P(tag in set)):"]
    lines += [f"  {prob:.4f}  {tag}" for tag, prob in p.top]
    lines.append(f"graph: {p.neighbours} neighbour(s) through shared lists"
                 + (f", best Jaccard {p.best_jaccard:.4f}" if p.neighbours else ""))
    lines += [f"note: {n}" for n in p.notes]
    return "\n".join(lines)
