"""Inference with the trained models, from the DVC outputs or the MLflow model registry.

    python -m tasks.predict ner "EU rejects German call to boycott British lamb ."
    python -m tasks.predict tags --text "protein folding simulation" --lists user12 user873
    python -m tasks.predict tags --text "..." --lists user12 --source registry --version 3

ner: spaCy tokenises and parses the text exactly as prepare_ner parsed the training
data; the GCN tagger tags it, and the entities are printed one per line as
``TYPE<TAB>text``. tags: see tasks/predict_tags.py. ``--source dvc`` (default) reads the
DVC outputs in this workspace; ``--source registry`` loads the registered MLflow model
``gnn-ner`` / ``gnn-tags`` (``--version``, default latest; see tasks/registry.py).

The parameters inference needs (spaCy model, word length, projection, sample sizes)
are read from dvc.lock, which records what produced the outputs, and fall back to
params.yaml when there is no dvc.lock (a flow run with overrides restores params.yaml
afterwards, but dvc.lock keeps what ran).
"""
from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasks.conll import Sentence
from tasks.io import DataError, run_main

NER_MODEL = Path("artifacts/ner/model.keras")
LOCK = Path("dvc.lock")


def locked_params(key: str, lock: Path = LOCK) -> dict:
    """A params.yaml section (``tags.sage``) as dvc.lock recorded it, else params.yaml's."""
    from tasks.params import load_params

    if lock.is_file():
        # DVC writes YAML 1.2 (``1e-42`` is a float there, a string to PyYAML's 1.1)
        from ruamel.yaml import YAML

        stages = (YAML(typ="safe").load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
        for stage in stages.values():
            value = stage.get("params", {}).get("params.yaml", {}).get(key)
            if isinstance(value, dict):
                return value
    node: Any = load_params().model_dump()
    for part in key.split("."):
        node = node[part]
    return node


def ner_settings(lock: Path = LOCK) -> dict:
    return {"spacy_model": locked_params("ner.spacy", lock)["model"],
            "max_word_length": int(locked_params("ner.train", lock)["max_word_length"])}


def tag_settings(lock: Path = LOCK) -> dict:
    projection = locked_params("tags.projection", lock)
    sage = locked_params("tags.sage", lock)
    return {"projection": {"similarity_cutoff": float(projection["similarity_cutoff"]),
                           **{k: int(projection[k]) for k in ("degree_cutoff", "top_k", "max_list_size")}},
            "sample_sizes": [int(s) for s in sage["sample_sizes"]], "seed": int(sage["seed"])}


@dataclass
class NerModel:
    model: Any   # keras.Model
    nlp: Any     # spaCy pipeline
    vocab: dict
    max_word_length: int


def load_ner_model(model_path: Path = NER_MODEL, prepared: Path | None = None, spacy_model: str | None = None,
                   max_word_length: int | None = None) -> NerModel:
    import keras

    import models.graph_conv  # noqa: F401  (registers the custom layers)
    import models.ner  # noqa: F401
    from tasks.ner_data import load_vocab
    from tasks.prepare_ner import OUT_DIR, load_parser

    prepared = prepared or OUT_DIR
    if not Path(model_path).is_file() or not (Path(prepared) / "vocab.json").is_file():
        raise DataError(model_path, None, "no trained NER model yet: run `dvc repro train_ner` (or make run) first")
    settings = ner_settings() if spacy_model is None or max_word_length is None else {}
    return NerModel(keras.models.load_model(model_path), load_parser(spacy_model or settings["spacy_model"]),
                    load_vocab(prepared), max_word_length or settings["max_word_length"])


def tag_entities(m: NerModel, text: str) -> list[tuple[str, str]]:
    """Return ``[(type, entity text), ...]`` for one text."""
    from tasks.ner_data import load_split, make_batch
    from tasks.prepare_ner import parse, split_arrays
    from tasks.span_f1 import spans

    if not text.strip():
        raise DataError("<text>", None, "empty text: give a sentence to tag")
    tokens = [t.text for t in m.nlp.tokenizer(text) if not t.is_space]
    sentence = Sentence(tuple(tokens), ("O",) * len(tokens), 0)
    index = {key: {v: i for i, v in enumerate(m.vocab[key])} for key in ("words", "chars", "labels", "relations")}
    buf = io.BytesIO()
    np.savez(buf, **split_arrays([sentence], parse([sentence], m.nlp, 1, "text"), index))
    buf.seek(0)
    x, _, _ = make_batch(load_split(buf), np.array([0]), m.max_word_length)
    probs = np.asarray(m.model.predict_on_batch(x))[0, :len(tokens)]
    tags = [m.vocab["labels"][k] for k in probs.argmax(-1)]
    return [(etype, " ".join(tokens[start:end])) for _, start, end, etype in spans(tags)]


def ner_entities(text: str, model_path: Path = NER_MODEL, prepared: Path | None = None,
                 spacy_model: str | None = None, max_word_length: int | None = None) -> list[tuple[str, str]]:
    """Load the tagger and tag one text (checks the text before loading anything)."""
    if not text.strip():
        raise DataError("<text>", None, "empty text: give a sentence to tag")
    return tag_entities(load_ner_model(model_path, prepared, spacy_model, max_word_length), text)


def format_entities(entities: list[tuple[str, str]]) -> str:
    return "\n".join(f"{etype}\t{words}" for etype, words in entities) or "(no entities found)"


def predict_ner_cli(args: argparse.Namespace) -> str:
    if args.source == "registry":
        from tasks.registry import predict_registered_ner

        return format_entities(predict_registered_ner(args.text, args.version))
    return format_entities(ner_entities(args.text, args.model))


def predict_tags_cli(args: argparse.Namespace) -> str:
    from tasks.predict_tags import TagModelFiles, format_prediction, load_tag_model, predict_tags

    if not args.text.strip():  # before loading anything
        raise DataError("--text", None, "empty text: give the new article's text")
    if args.source == "registry":
        from tasks.registry import predict_registered_tags

        return format_prediction(predict_registered_tags(args.text, args.lists, args.version))
    return format_prediction(predict_tags(load_tag_model(TagModelFiles()), args.text, args.lists))


def main() -> None:
    parser = argparse.ArgumentParser(description="Predict with the trained models.")
    sub = parser.add_subparsers(dest="task", required=True)
    ner = sub.add_parser("ner", help="print the entities the GCN tagger finds in a text")
    ner.add_argument("text", nargs="?", help="the sentence (or give it with --text, as for tags)")
    ner.add_argument("--text", dest="text_option", metavar="TEXT")
    ner.add_argument("--model", type=Path, default=NER_MODEL, help="with --source dvc")
    tags = sub.add_parser("tags", help="print the tags predicted for a new article from its text and lists")
    tags.add_argument("--text", required=True, help="the article's text (citeulike: its words)")
    tags.add_argument("--lists", nargs="*", default=[], metavar="LIST",
                      help="ids of the lists the article is in (the `list` values of memberships.parquet)")
    for p in (ner, tags):
        p.add_argument("--source", choices=["dvc", "registry"], default="dvc",
                       help="dvc: this workspace's DVC outputs; registry: the MLflow registered model")
        p.add_argument("--version", default="latest", help="registered model version (with --source registry)")
    args = parser.parse_args()
    if args.task == "ner":
        args.text = args.text if args.text is not None else args.text_option
        if args.text is None:
            parser.error("ner: give the text to tag")
    print(predict_ner_cli(args) if args.task == "ner" else predict_tags_cli(args))
    sys.stdout.flush()


if __name__ == "__main__":
    run_main(main)
