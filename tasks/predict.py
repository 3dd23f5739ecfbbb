"""Inference with the trained models.

    python -m tasks.predict ner "EU rejects German call to boycott British lamb ."

spaCy tokenises and parses the text exactly as prepare_ner parsed the training data;
the GCN tagger from ``artifacts/ner/model.keras`` (the DVC output of train_ner) tags it,
and the entities are printed one per line as ``TYPE<TAB>text``.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from tasks.conll import Sentence
from tasks.io import DataError, run_main

NER_MODEL = Path("artifacts/ner/model.keras")


def ner_entities(text: str, model_path: Path = NER_MODEL, prepared: Path | None = None,
                 spacy_model: str | None = None) -> list[tuple[str, str]]:
    """Return ``[(type, entity text), ...]`` for one text."""
    import keras

    import models.graph_conv  # noqa: F401  (registers the custom layers)
    import models.ner  # noqa: F401
    from tasks.ner_data import load_split, load_vocab, make_batch
    from tasks.params import load_params
    from tasks.prepare_ner import OUT_DIR, load_parser, parse, split_arrays
    from tasks.span_f1 import spans

    if not text.strip():
        raise DataError("<text>", None, "empty text: give a sentence to tag")
    prepared = prepared or OUT_DIR
    if not model_path.is_file() or not (prepared / "vocab.json").is_file():
        raise DataError(model_path, None, "no trained NER model yet: run `dvc repro train_ner` (or make run) first")
    params = load_params().ner
    nlp = load_parser(spacy_model or params.spacy.model)
    tokens = [t.text for t in nlp.tokenizer(text) if not t.is_space]
    sentence = Sentence(tuple(tokens), ("O",) * len(tokens), 0)
    vocab = load_vocab(prepared)
    index = {key: {v: i for i, v in enumerate(vocab[key])} for key in ("words", "chars", "labels", "relations")}
    buf = io.BytesIO()
    np.savez(buf, **split_arrays([sentence], parse([sentence], nlp, 1, "text"), index))
    buf.seek(0)
    split = load_split(buf)
    model = keras.models.load_model(model_path)
    x, _, _ = make_batch(split, np.array([0]), params.train.max_word_length)
    probs = np.asarray(model.predict_on_batch(x))[0, :len(tokens)]
    tags = [vocab["labels"][k] for k in probs.argmax(-1)]
    return [(etype, " ".join(tokens[start:end])) for _, start, end, etype in spans(tags)]


def main() -> None:
    parser = argparse.ArgumentParser(description="Predict with the trained models.")
    sub = parser.add_subparsers(dest="task", required=True)
    ner = sub.add_parser("ner", help="print the entities the GCN tagger finds in a text")
    ner.add_argument("text")
    ner.add_argument("--model", type=Path, default=NER_MODEL)
    args = parser.parse_args()
    entities = ner_entities(args.text, args.model)
    if not entities:
        print("(no entities found)")
    for etype, words in entities:
        print(f"{etype}\t{words}")
    sys.stdout.flush()


if __name__ == "__main__":
    run_main(main)
