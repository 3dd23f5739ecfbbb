"""Inference with the trained models, from the DVC outputs or the MLflow model registry.

    python -m tasks.predict ner "EU rejects German call to boycott British lamb ."
    python -m tasks.predict tags --text "protein folding simulation" --lists user12 user873
    python -m tasks.predict tags --text "..." --lists user12 --source registry --version 3

ner: spaCy tokenises and parses the text exactly as prepare_ner parsed the training
data; the GCN tagger tags it, and the entities are printed one per line as
``TYPE<TAB>text``. tags: see tasks/tags/inference.py. ``--source dvc`` (default) reads
the DVC outputs in this workspace; ``--source registry`` loads the registered MLflow
model ``gnn-ner`` / ``gnn-tags`` (``--version``, default latest; see
tasks/serving/registry.py). The trained artifacts describe themselves (model_info.json,
sage_info.json, classifier_info.json), so nothing is read from dvc.lock or params.yaml.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tasks.common import paths
from tasks.common.files import DataError
from tasks.common.settings import native_stderr_hidden


def predict_ner_cli(args: argparse.Namespace) -> str:
    if not args.text.strip():  # before loading anything
        raise DataError("<text>", None, "empty text: give a sentence to tag")
    from tasks.ner.inference import format_entities, load_tagger, tag_entities

    if args.source == "registry":
        from tasks.serving.registry import predict_registered_ner

        return format_entities(predict_registered_ner(args.text, args.version))
    return format_entities(tag_entities(load_tagger(args.model), args.text))


def predict_tags_cli(args: argparse.Namespace) -> str:
    if not args.text.strip():  # before loading anything
        raise DataError("--text", None, "empty text: give the new article's text")
    from tasks.tags.inference import format_prediction, load_tag_model, predict_tags

    if args.source == "registry":
        from tasks.serving.registry import predict_registered_tags

        return format_prediction(predict_registered_tags(args.text, args.lists, args.version))
    return format_prediction(predict_tags(load_tag_model(), args.text, args.lists))


def main() -> None:
    parser = argparse.ArgumentParser(description="Predict with the trained models.")
    sub = parser.add_subparsers(dest="task", required=True)
    ner = sub.add_parser("ner", help="print the entities the GCN tagger finds in a text")
    ner.add_argument("text", nargs="?", help="the sentence (or give it with --text, as for tags)")
    ner.add_argument("--text", dest="text_option", metavar="TEXT")
    ner.add_argument("--model", type=Path, default=paths.NER_ARTIFACTS,
                     help="the trained model's folder (with --source dvc)")
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
    try:
        # The answer is the output: native libraries' lines (TensorFlow's absl and oneDNN
        # notes, cuInit on a CPU machine) are hidden; Python errors still print, after.
        with native_stderr_hidden():
            answer = predict_ner_cli(args) if args.task == "ner" else predict_tags_cli(args)
        print(answer)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
