"""Paths of the tag pipeline's data and model files, in one place.

Stages and inference import them from here rather than from the stage that writes
them, so reading a path does not import the writer (train_sage pulls in Keras).
``dvc.yaml`` lists the same paths as the stages' deps and outs.
"""
from __future__ import annotations

from pathlib import Path

TAGS_DATA = Path("data/prepared/tags")
ARTICLES = TAGS_DATA / "articles"                         # import_articles: articles/memberships.parquet
TEXT_EMBEDDINGS = TAGS_DATA / "text_embeddings.npy"       # embed_text
TEXT_ENCODER = Path("artifacts/tags/text_encoder.npz")    # embed_text: encodes new texts
GRAPH = TAGS_DATA / "graph.npz"                           # project_graph
SAMPLE = TAGS_DATA / "sample.npz"                         # sample_graph
SAGE_EMBEDDINGS = TAGS_DATA / "sage_embeddings.npy"       # train_sage
SAGE_ENCODER = Path("artifacts/tags/sage_encoder.keras")  # train_sage
CLASSIFIER = Path("artifacts/tags/classifier.joblib")     # evaluate_tags: concat-feature classifier
UNTAGGED = Path("artifacts/tags/untagged_predictions.csv")  # evaluate_tags
