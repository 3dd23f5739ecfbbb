"""Every file a stage writes, named once.

Stages, inference, the registry and the flows import paths from here, never from the
stage that writes them. ``dvc.yaml`` must declare exactly these outs, metrics and plots
per stage (tests/unit/common/test_paths.py checks it), because DVC cannot read Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# ----------------------------------------------------------------------------- NER
NER_PREPARED = Path("data/prepared/ner")            # prepare_ner: <split>.npz, vocab.json, embeddings.npy, stats.json
NER_ARTIFACTS = Path("artifacts/ner")               # train_ner
NER_MODEL = NER_ARTIFACTS / "model.keras"
NER_MODEL_INFO = NER_ARTIFACTS / "model_info.json"  # what inference needs: vocab, labels, spaCy model, word length
NER_TEST_PREDICTIONS = NER_ARTIFACTS / "test_predictions.txt"
NER_METRICS = Path("metrics/ner.json")
NER_HISTORY = Path("plots/ner/history.csv")
NER_PER_TYPE = Path("plots/ner/per_type.csv")
NER_CHECKPOINTS = Path(".cache/train_ner")          # resume state; not a DVC output

# ----------------------------------------------------------------------------- tags
TAGS_DATA = Path("data/prepared/tags")
ARTICLES = TAGS_DATA / "articles"                   # import_articles: articles.parquet, memberships.parquet
TAGS_DATA_METRICS = Path("metrics/tags_data.json")
TAGS_PER_ARTICLE = Path("plots/tags/tags_per_article.csv")
LISTS_PER_ARTICLE = Path("plots/tags/lists_per_article.csv")
TOP_TAGS = Path("plots/tags/top_tags.csv")

TEXT_EMBEDDINGS = TAGS_DATA / "text_embeddings.npy"       # embed_text
TEXT_ENCODER = Path("artifacts/tags/text_encoder.npz")    # embed_text: encodes new texts

GRAPH = TAGS_DATA / "graph.npz"                           # project_graph
GRAPH_METRICS = Path("metrics/tags_graph.json")
COMPONENT_SIZES = Path("plots/tags/component_sizes.csv")

SAMPLE = TAGS_DATA / "sample.npz"                         # sample_graph
SAMPLE_METRICS = Path("metrics/tags_sample.json")

SAGE_EMBEDDINGS = TAGS_DATA / "sage_embeddings.npy"       # train_sage
SAGE_COMPARE = TAGS_DATA / "sage_compare.npz"             # train_sage: the tags.sage.compare presets' embeddings
SAGE_ENCODER = Path("artifacts/tags/sage_encoder.keras")
SAGE_INFO = Path("artifacts/tags/sage_info.json")         # projection, sampling and GraphSAGE settings
SAGE_METRICS = Path("metrics/tags_sage.json")
SAGE_LOSS = Path("plots/tags/sage_loss.csv")

CLASSIFIER = Path("artifacts/tags/classifier.joblib")     # evaluate_tags: concat-feature classifier
CLASSIFIER_INFO = Path("artifacts/tags/classifier_info.json")  # tag order, feature sets and sizes
UNTAGGED = Path("artifacts/tags/untagged_predictions.csv")
TAGS_METRICS = Path("metrics/tags.json")
PER_TAG_PRECISION = Path("plots/tags/per_tag_precision.csv")


@dataclass(frozen=True)
class StageFiles:
    outs: tuple[Path, ...]
    metrics: tuple[Path, ...] = ()
    plots: tuple[Path, ...] = ()
    experiment: str = field(default="")  # MLflow experiment of the stage's runs


STAGES: dict[str, StageFiles] = {
    "prepare_ner": StageFiles((NER_PREPARED,), experiment="ner"),
    "train_ner": StageFiles((NER_ARTIFACTS,), (NER_METRICS,), (NER_HISTORY, NER_PER_TYPE), "ner"),
    "import_articles": StageFiles((ARTICLES,), (TAGS_DATA_METRICS,), (TAGS_PER_ARTICLE, LISTS_PER_ARTICLE, TOP_TAGS),
                                  "tags"),
    "embed_text": StageFiles((TEXT_EMBEDDINGS, TEXT_ENCODER), experiment="tags"),
    "project_graph": StageFiles((GRAPH,), (GRAPH_METRICS,), (COMPONENT_SIZES,), "tags"),
    "sample_graph": StageFiles((SAMPLE,), (SAMPLE_METRICS,), experiment="tags"),
    "train_sage": StageFiles((SAGE_EMBEDDINGS, SAGE_COMPARE, SAGE_ENCODER, SAGE_INFO), (SAGE_METRICS,), (SAGE_LOSS,), "tags"),
    "evaluate_tags": StageFiles((UNTAGGED, CLASSIFIER, CLASSIFIER_INFO), (TAGS_METRICS,), (PER_TAG_PRECISION,), "tags"),
}
