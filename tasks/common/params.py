"""The one typed schema for ``params.yaml``.

``params.yaml`` holds every default value; this schema holds none. It checks types,
ranges, choices and unknown keys, and every field is required, so the two cannot drift:
a key missing from ``params.yaml`` is an error naming it, not a silent second default.
Every stage and flow loads parameters through :func:`load_params`, so an invalid file
stops the run before any work starts, with the dotted key named in the message.
"""
from __future__ import annotations

import copy
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
    dir: str                    # the folder prepare_ner reads (a DVC dependency)
    train: str
    dev: str
    test: str
    entity_types: list[str] = Field(min_length=1)
    max_sentences: int = Field(ge=0)  # 0 keeps every sentence; N > 0 the first N of each split


class NerSpacy(Strict):
    model: str
    batch_size: int = Field(ge=1)


class NerEmbeddings(Strict):
    source: str                 # "glove-6b-50d" or a word2vec/GloVe text file (.txt or .txt.gz)


Preset = Literal["seed_readme", "seed_train", "default"]


class NerModel(Strict):
    preset: Preset
    # Overrides of the preset's fields; null keeps the preset's value.
    dropout: float | None = Field(ge=0.0, lt=1.0)
    combine: Literal["sum", "max"] | None
    num_bases: int | None = Field(ge=0)
    gcn_units: int | None = Field(ge=1)
    context_units: int | None = Field(ge=0)
    char_filters: int | None = Field(ge=0)


class NerTrain(Strict):
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    learning_rate: float = Field(gt=0.0)
    patience: int = Field(ge=1)
    seed: int
    mixed_precision: bool
    max_word_length: int = Field(ge=1)


class NerParams(Strict):
    data: NerData
    spacy: NerSpacy
    embeddings: NerEmbeddings
    model: NerModel
    train: NerTrain

    @model_validator(mode="after")
    def _distinct_splits(self) -> "NerParams":
        names = [self.data.train, self.data.dev, self.data.test]
        if len(set(names)) != 3:
            raise ValueError(f"data.train, data.dev and data.test must differ, got {names}")
        return self


# ----------------------------------------------------------------------------- tags
class TagsData(Strict):
    format: Literal["citeulike", "medium"]
    # The folder import_articles reads (its DVC dependency): citeulike's .dat files, or
    # medium_articles.csv + medium_lists.csv (+ optional medium_embeddings.csv).
    dir: str


class TagsText(Strict):
    # tfidf-glove: TF-IDF-weighted mean of word vectors; precomputed: the Medium
    # embeddings CSV (medium_embeddings.csv in tags.data.dir).
    encoder: Literal["tfidf-glove", "precomputed"]
    embeddings: str


class TagsProjection(Strict):
    similarity_cutoff: float = Field(ge=0.0, le=1.0)
    degree_cutoff: int = Field(ge=1)    # articles in fewer lists are not compared
    max_list_size: int = Field(ge=0)    # 0: no limit; larger lists are ignored
    top_k: int = Field(ge=1)


class TagsSampling(Strict):
    sampling_ratio: float = Field(gt=0.0, le=1.0)
    restart_probability: float = Field(gt=0.0, lt=1.0)
    start_node: int | None = Field(ge=0)
    seed: int


class TagsSage(Strict):
    aggregator: Literal["mean", "pool"]
    activation: Literal["relu", "sigmoid"]
    sample_sizes: list[int] = Field(min_length=1, max_length=3)
    embedding_dimension: int = Field(ge=1)
    search_depth: int = Field(ge=1)
    negative_sample_weight: float = Field(gt=0.0)
    learning_rate: float = Field(gt=0.0)
    batch_size: int = Field(ge=1)
    epochs: int = Field(ge=1)
    max_iterations: int = Field(ge=0)   # Adam steps per epoch; 0: one pass over the nodes
    tolerance: float = Field(ge=0.0)
    seed: int


class TagsEvaluate(Strict):
    min_count: int = Field(ge=0)
    test_size: float = Field(gt=0.0, lt=1.0)
    seed: int
    max_iter: int = Field(ge=1)
    untagged_sample: int = Field(ge=0)


class TagsParams(Strict):
    data: TagsData
    text: TagsText
    projection: TagsProjection
    sampling: TagsSampling
    sage: TagsSage
    evaluate: TagsEvaluate

    @model_validator(mode="after")
    def _consistent(self) -> "TagsParams":
        if self.text.encoder == "precomputed" and self.data.format != "medium":
            raise ValueError("text.encoder 'precomputed' needs data.format 'medium' (medium_embeddings.csv)")
        if any(s < 1 for s in self.sage.sample_sizes):
            raise ValueError(f"sage.sample_sizes must be positive, got {self.sage.sample_sizes}")
        return self


class Params(Strict):
    ner: NerParams
    tags: TagsParams


# ----------------------------------------------------------------------------- loading
def _format_error(err: ValidationError, path: Path | str) -> str:
    lines = [f"{path}: invalid parameters"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        if e["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        elif e["type"] == "missing":
            lines.append(f"  {key}: missing (params.yaml must give every key)")
        else:
            got = e.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  {key}: {e['msg']}{shown}")
    return "\n".join(lines)


def validate_params(raw: Any, path: Path | str = PARAMS_FILE) -> Params:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: the top level must be a mapping, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_format_error(err, path)) from None


def read_raw(path: Path | str = PARAMS_FILE) -> dict:
    """params.yaml as plain data (not yet validated)."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: parameters file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    return raw if raw is not None else {}


def load_params(path: Path | str = PARAMS_FILE) -> Params:
    return validate_params(read_raw(path), path)


def apply_overrides(raw: dict, overrides: dict[str, Any]) -> dict:
    """Return a copy of ``raw`` with dotted keys (``ner.train.epochs``) replaced. A key
    that params.yaml does not have is an error: overrides change values, never add keys."""
    out = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        node = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                raise ParamsError(f"override {dotted}: {part!r} is not a section of params.yaml")
        if leaf not in node:
            raise ParamsError(f"override {dotted}: params.yaml has no key {leaf!r} there")
        node[leaf] = value
    return out


def section(params: Params, dotted: str) -> dict:
    """One section (``tags.sage``) as plain data."""
    node: Any = params.model_dump()
    for part in dotted.split("."):
        node = node[part]
    return node


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
