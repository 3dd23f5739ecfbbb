"""The NER variants that benchmarks/ner_seeds.py trains over seeds: each is a set of
params.yaml overrides on top of the project's params, pinned so that a variant's runs stay
comparable when params.yaml adopts a new default."""
from __future__ import annotations

from pathlib import Path

from tasks.common.params import NerModel, NerTrain, apply_overrides, read_raw, switches_off, validate_params

# Each variant is a set of params.yaml overrides (the rest is the project's params.yaml).
# The sentence-level model before document edges, pinned so its runs stay comparable:
SENTENCE_LEVEL = {"ner.model.doc_neighbours": 0, "ner.model.edge_gates": False, "ner.model.tag_scheme": "iob2",
                  "ner.train.batches": "lengths"}
VARIANTS: dict[str, dict] = {
    # the original's own schedule: 50 epochs of batch 8 (early stopping as configured)
    "seed_readme": {"ner.model.preset": "seed_readme", "ner.train.epochs": 50, "ner.train.batch_size": 8},
    "seed_train": {"ner.model.preset": "seed_train", "ner.train.epochs": 50, "ner.train.batch_size": 8},
    "default_softmax": {"ner.model.preset": "default", "ner.model.output": "dense", **SENTENCE_LEVEL},
    "default_crf": {"ner.model.preset": "default", "ner.model.output": "crf", **SENTENCE_LEVEL},
    "default_crf_no_gcn": {"ner.model.preset": "default", "ner.model.output": "crf", "ner.model.gcn_layers": 0,
                           **SENTENCE_LEVEL},
    # The document-level default (dependency arcs + document edges, gated, IOBES, document
    # batches) and its ablations; every one trains on the same document batches.
    "graph": {"ner.model.preset": "default", "ner.train.batches": "documents"},
    "no_graph": {"ner.model.preset": "default", "ner.model.gcn_layers": 0, "ner.train.batches": "documents"},
    "dependency_arcs_only": {"ner.model.preset": "default", "ner.model.doc_neighbours": 0,
                             "ner.train.batches": "documents"},
    "document_edges_only": {"ner.model.preset": "default", "ner.model.dependency_arcs": False,
                            "ner.train.batches": "documents"},
    # The default with singleton UNK (Lample et al. 2016's p = 0.5): trains the <unk> vector.
    "graph_word_dropout": {"ner.model.preset": "default", "ner.train.batches": "documents",
                           "ner.train.word_dropout": 0.5},
    # The default with gradient normalisation (Reimers & Gurevych 2017: threshold 1), and
    # its no-graph ablation.
    "graph_clip_norm": {"ner.model.preset": "default", "ner.train.batches": "documents", "ner.train.clip_norm": 1.0},
    "no_graph_clip_norm": {"ner.model.preset": "default", "ner.model.gcn_layers": 0, "ner.train.batches": "documents",
                           "ner.train.clip_norm": 1.0},
    # The clipped default's two single-graph ablations: what each edge kind adds under it.
    "dependency_arcs_only_clip_norm": {"ner.model.preset": "default", "ner.model.doc_neighbours": 0,
                                       "ner.train.batches": "documents", "ner.train.clip_norm": 1.0},
    "document_edges_only_clip_norm": {"ner.model.preset": "default", "ner.model.dependency_arcs": False,
                                      "ner.train.batches": "documents", "ner.train.clip_norm": 1.0},
    # The default with Ma & Hovy 2016's inverse-time decay (rho = 0.05 per epoch).
    "graph_lr_decay": {"ner.model.preset": "default", "ner.train.batches": "documents", "ner.train.lr_decay": 0.05},
    # The two recipe switches tried before clipping became the default, on top of it.
    "graph_clip_norm_lr_decay": {"ner.model.preset": "default", "ner.train.batches": "documents",
                                 "ner.train.clip_norm": 1.0, "ner.train.lr_decay": 0.05},
    "graph_clip_norm_word_dropout": {"ner.model.preset": "default", "ner.train.batches": "documents",
                                     "ner.train.clip_norm": 1.0, "ner.train.word_dropout": 0.5},
    # The clipped default on batches of 64 sentences (document windows of up to 64 too),
    # for train_ner's time: half the steps per epoch, so a shorter epoch; whether the
    # halved number of updates costs F1 or epochs is what its seeds measure.
    "graph_clip_norm_batch64": {"ner.model.preset": "default", "ner.train.batches": "documents",
                                "ner.train.clip_norm": 1.0, "ner.train.batch_size": 64},
    # ... and its no-graph ablation: what the graph adds on batches of 64.
    "no_graph_clip_norm_batch64": {"ner.model.preset": "default", "ner.model.gcn_layers": 0,
                                   "ner.train.batches": "documents", "ner.train.clip_norm": 1.0,
                                   "ner.train.batch_size": 64},
    # The batch-64 default with singleton UNK: trains the <unk> vector that every word
    # outside the vocabulary meets when served (the unknown-subject behaviour test).
    "graph_clip_norm_batch64_word_dropout": {"ner.model.preset": "default", "ner.train.batches": "documents",
                                             "ner.train.clip_norm": 1.0, "ner.train.batch_size": 64,
                                             "ner.train.word_dropout": 0.5},
    # The rate decay on the batch-64 default: graph_clip_norm_lr_decay led on dev over five
    # seeds but trains on batches of 32, past train_ner's 12 minutes (docs/results.md).
    "graph_clip_norm_batch64_word_dropout_lr_decay": {
        "ner.model.preset": "default", "ner.train.batches": "documents", "ner.train.clip_norm": 1.0,
        "ner.train.batch_size": 64, "ner.train.word_dropout": 0.5, "ner.train.lr_decay": 0.05},
    "no_graph_clip_norm_batch64_word_dropout": {"ner.model.preset": "default", "ner.model.gcn_layers": 0,
                                                "ner.train.batches": "documents", "ner.train.clip_norm": 1.0,
                                                "ner.train.batch_size": 64, "ner.train.word_dropout": 0.5},
}
# Keep the model fields a variant does not name at the preset's value, and the training
# recipe's switches it does not name off (the NerTrain fields given an ``off`` value),
# whatever the project's params.yaml sets: a run file stays that variant's when
# params.yaml adopts a new default.
MODEL_OVERRIDES = tuple(f for f in NerModel.model_fields if f != "preset")
RECIPE_OFF = {f"ner.train.{name}": off for name, off in switches_off(NerTrain).items()}
# Training settings that are no switch but that every variant was run with unless it
# names another, pinned likewise: 32 sentences a batch (and a document window).
PINNED = {"ner.train.batch_size": 32}


def params_of(variant: str, seed: int, params_file: Path) -> dict:
    """``params_file``'s params with the variant's overrides and ``seed``; validated."""
    overrides = {**{f"ner.model.{k}": None for k in MODEL_OVERRIDES}, **RECIPE_OFF, **PINNED}
    overrides.update(VARIANTS[variant])
    overrides["ner.train.seed"] = seed
    raw = apply_overrides(read_raw(params_file), overrides)
    validate_params(raw, f"{params_file.name} + variant {variant}")
    return raw
