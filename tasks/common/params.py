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
# Every field carries its description: the Prefect Run form and error messages show it.
def F(description: str, off: Any = None, **constraints: Any) -> Any:
    """A required field (params.yaml gives the value) with its description and range;
    ``off``: for a switch of the training recipe, the value that turns it off
    (:func:`switches_off`)."""
    if off is not None:
        constraints["json_schema_extra"] = {"off": off}
    return Field(description=description, **constraints)


def switches_off(section: type[BaseModel]) -> dict[str, Any]:
    """Each recipe switch of ``section`` (a field given ``off``) and the value that turns
    it off: what a comparison pins so that its variants keep their recipe when
    params.yaml adopts a new one (benchmarks/ner_seeds.py)."""
    return {name: info.json_schema_extra["off"] for name, info in section.model_fields.items()
            if isinstance(info.json_schema_extra, dict) and "off" in info.json_schema_extra}


class NerData(Strict):
    dir: str = F("Folder prepare_ner reads: the CoNLL-2003 files (a DVC dependency)")
    train: str = F("Training split file in data.dir")
    dev: str = F("Validation split file in data.dir (early stopping, model choice)")
    test: str = F("Test split file in data.dir (scored once per run)")
    entity_types: list[str] = F("Entity types to tag (BIO labels are built from them)", min_length=1)
    max_sentences: int = F("0 keeps every sentence; N > 0 keeps the first N of each split", ge=0)


class NerSpacy(Strict):
    model: str = F("spaCy pipeline that parses the sentences into dependency graphs")
    batch_size: int = F("Sentences per spaCy parsing batch", ge=1)


class NerEmbeddings(Strict):
    source: str = F('Word vectors: "glove-6b-50d" or a word2vec/GloVe text file (.txt or .txt.gz)')


Preset = Literal["seed_readme", "seed_train", "default"]


class NerModel(Strict):
    preset: Preset = F("Model preset: the original's two configurations or this project's default")
    # Overrides of the preset's fields; null keeps the preset's value.
    dropout: float | None = F("Dropout rate; null keeps the preset's", ge=0.0, lt=1.0)
    combine: Literal["sum", "max"] | None = F("How the graph convolution combines relations; null keeps the preset's")
    num_bases: int | None = F("Basis matrices shared by the relations (0: none); null keeps the preset's", ge=0)
    gcn_units: int | None = F("Units of the graph convolution; null keeps the preset's", ge=1)
    context_units: int | None = F("BiLSTM units before the GCN (0: no BiLSTM); null keeps the preset's", ge=0)
    char_filters: int | None = F("Character CNN filters (0: no char CNN); null keeps the preset's", ge=0)
    output: Literal["dense", "crf", "gcn"] | None = F(
        "Output head: dense softmax, linear-chain CRF, or a GCN softmax; null keeps the preset's")
    gcn_layers: int | None = F("Graph convolution layers (0: none, the ablation); null keeps the preset's", ge=0)
    doc_neighbours: int | None = F(
        "Document edges per token: nearest repeats of its capitalised word in the document (0: none); "
        "null keeps the preset's", ge=0)
    dependency_arcs: bool | None = F("Graph edges along the parser's arcs (false: the ablation); null keeps the preset's")
    edge_gates: bool | None = F("A learned sigmoid gate on every graph edge; null keeps the preset's")
    tag_scheme: Literal["iob2", "iobes"] | None = F("Labels the tagger learns (always scored as IOB2); "
                                                    "null keeps the preset's")


class NerTrain(Strict):
    epochs: int = F("Most training epochs (early stopping may end sooner)", ge=1)
    batch_size: int = F("Sentences per training batch", ge=1)
    learning_rate: float = F("Adam learning rate", gt=0.0)
    patience: int = F("Epochs without a better dev F1 before training stops", ge=1)
    seed: int = F("Seed for weights, shuffling and dropout")
    mixed_precision: bool = F("Train in mixed float16 (GPUs only)")
    max_word_length: int = F("Characters kept per word for the char CNN", ge=1)
    batches: Literal["documents", "lengths"] = F(
        "Batches of whole document windows (what document edges need) or of sentences of similar length")
    word_dropout: float = F(
        "Chance that a word seen once in the training split is replaced by <unk> in a training batch "
        "(singleton UNK, Lample et al. 2016), so the <unk> vector is trained; 0 turns it off", off=0.0, ge=0.0,
        lt=1.0)
    clip_norm: float = F(
        "Gradients rescaled to at most this global L2 norm before each update (Reimers & Gurevych 2017's "
        "gradient normalisation, threshold 1); 0 turns it off", off=0.0, ge=0.0)
    lr_decay: float = F(
        "Inverse-time learning-rate decay per epoch: epoch e (from 0) trains at learning_rate / (1 + lr_decay * e) "
        "(Ma & Hovy 2016's schedule, rho = 0.05); 0 keeps the rate constant", off=0.0, ge=0.0)


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
    format: Literal["citeulike", "medium"] = F("Layout of data.dir: citeulike .dat files or Medium CSVs")
    dir: str = F("Folder import_articles reads: citeulike's .dat files, or medium_articles.csv + "
                 "medium_lists.csv (+ optional medium_embeddings.csv)")


class TagsText(Strict):
    encoder: Literal["tfidf-glove", "minilm", "precomputed"] = F(
        "tfidf-glove: TF-IDF-weighted mean of word vectors; minilm: all-MiniLM-L6-v2 sentence embeddings (the "
        "minilm extra); precomputed: medium_embeddings.csv in data.dir")
    embeddings: str = F('Word vectors for tfidf-glove: "glove-6b-50d" or a vectors text file')


class TagsProjection(Strict):
    similarity_cutoff: float = F("Least Jaccard similarity kept as an edge", ge=0.0, le=1.0)
    degree_cutoff: int = F("Articles in fewer lists are not compared", ge=1)
    max_list_size: int = F("Lists with more articles are ignored (0: no limit)", ge=0)
    top_k: int = F("Most neighbours kept per article", ge=1)


class TagsSampling(Strict):
    sampling_ratio: float = F("Share of the articles the random walk with restarts visits", gt=0.0, le=1.0)
    restart_probability: float = F("Chance per step that the walk jumps back to its start", gt=0.0, lt=1.0)
    start_node: int | None = F("Article the walk starts from; null: a seeded random one", ge=0)
    seed: int = F("Seed of the random walk")


class TagsSage(Strict):
    preset: Literal["default", "gds", "supervised", "random"] = F(
        "GraphSAGE preset: gds (the original's Neo4j GDS semantics and hyperparameters), default (this project's "
        "unsupervised one), supervised (the same encoder trained with the train split's tags) or random (untrained "
        "weights, a control)")
    compare: list[Literal["default", "gds", "supervised", "random"]] = F(
        "Presets also trained (without overrides) for comparison rows in metrics/tags.json")
    # Overrides of the preset's fields; null keeps the preset's value.
    aggregator: Literal["mean", "pool"] | None = F("How GraphSAGE combines a node's sampled neighbours")
    activation: Literal["relu", "sigmoid"] | None = F("Activation of the GraphSAGE layers")
    concat: bool | None = F("Separate weights for a node itself and its neighbours (the paper's concatenation)")
    output_activation: bool | None = F("Apply the activation on the last layer too (GDS) or leave it linear")
    sample_sizes: list[int] | None = F("Neighbours sampled per layer (1 to 3 layers)", min_length=1, max_length=3)
    embedding_dimension: int | None = F("Size of the GraphSAGE embedding", ge=1)
    search_depth: int | None = F("Length of the random walks that pick positive pairs", ge=1)
    negatives: Literal["paired", "batch"] | None = F(
        "Negatives per target: one (paired, GDS) or every negative of the batch")
    negative_sample_weight: float | None = F("Weight of the negative pairs in the unsupervised loss", gt=0.0)
    temperature: float | None = F("Pair scores are divided by this (1: GDS); lower sharpens the loss", gt=0.0)
    train_on: Literal["sample", "graph"] | None = F(
        "Train on the random-walk sample (GDS) or the whole graph; embedding is inductive either way")
    learning_rate: float | None = F("Adam learning rate", gt=0.0)
    batch_size: int | None = F("Nodes per training batch", ge=1)
    epochs: int | None = F("Most training epochs", ge=1)
    max_iterations: int | None = F("Adam steps per epoch (0: one pass over the nodes)", ge=0)
    tolerance: float | None = F("Training stops when the loss changes by less than this between epochs", ge=0.0)
    unsupervised_weight: float | None = F("supervised: weight of the unsupervised loss beside the tag loss", ge=0.0)
    patience: int | None = F("supervised: epochs without a better validation LRAP before training stops", ge=1)


class TagsPropagation(Strict):
    hops: int = F("Hops of the parameter-free propagation baseline [X, ÂX, ..., Â^hops X]", ge=0, le=5)


class TagsEvaluate(Strict):
    min_count: int = F("Tags on fewer articles are not classified", ge=0)
    test_size: float = F("Share of the tagged articles held out for the test", gt=0.0, lt=1.0)
    validation_size: float = F("Share of the tagged articles held out for validation (choices)", gt=0.0, lt=1.0)
    seeds: list[int] = F("Seeds: seed i splits the articles and trains GraphSAGE run i; the first is served",
                         min_length=1)
    max_iter: int = F("Most iterations of the logistic-regression classifier", ge=1)
    untagged_sample: int = F("Untagged articles given predicted tags in the report", ge=0)


class TagsParams(Strict):
    data: TagsData
    text: TagsText
    projection: TagsProjection
    sampling: TagsSampling
    sage: TagsSage
    propagation: TagsPropagation
    evaluate: TagsEvaluate

    @model_validator(mode="after")
    def _consistent(self) -> "TagsParams":
        if self.text.encoder == "precomputed" and self.data.format != "medium":
            raise ValueError("text.encoder 'precomputed' needs data.format 'medium' (medium_embeddings.csv)")
        if self.sage.sample_sizes is not None and any(s < 1 for s in self.sage.sample_sizes):
            raise ValueError(f"sage.sample_sizes must be positive, got {self.sage.sample_sizes}")
        e = self.evaluate
        if e.test_size + e.validation_size >= 1.0:
            raise ValueError(f"evaluate.test_size + evaluate.validation_size must be < 1, got "
                             f"{e.test_size} + {e.validation_size}")
        if len(set(e.seeds)) != len(e.seeds):
            raise ValueError(f"evaluate.seeds must differ, got {e.seeds}")
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
