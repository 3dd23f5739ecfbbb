"""NER models: word features -> (context layer) -> graph convolutions -> tag softmax or CRF.

Presets:
  seed_readme  the README of keras_gcn_sequence_labelling: frozen vectors ->
               GCN(150, relu) -> dropout -> GCN(num_labels, softmax, no backward links).
  seed_train   its train.py: frozen vectors -> GCN(256) -> dropout -> GCN(256) ->
               dropout -> dense softmax.
  default      ours. A GCN alone only sees a word's syntactic neighbours, so it cannot
               learn word shape or order-dependent context; we give it what the NER
               literature shows matters (Ma & Hovy 2016; Cetoli et al. 2017): trainable
               vectors, casing features, a character CNN, and a BiLSTM context layer
               whose states the GCN then mixes along the dependency tree (basis-
               decomposed relation weights, normalised, edge-weighted, gated). Its graph
               also links the repeats of a capitalised word across the sentences of a
               document (document edges), and it learns IOBES tags.
               The output sees the BiLSTM state and the GCN state side by side.
Output heads (``output``): ``dense`` (a per-token softmax), ``crf`` (per-token scores
into a linear-chain CRF, see models/crf.py: trained on the sequence log-likelihood,
decoded by Viterbi, so ``O I-PER`` cannot come out) or ``gcn`` (seed_readme's last GCN
layer as the softmax). ``gcn_units=()`` removes the graph convolutions: the ablation
that measures what the dependency graph adds.
All presets use the bug-fixed layer (sum over relations, real consecutive links,
per-unit bias, masks); `combine="max"` restores the original combination.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras
from keras import layers, ops

from models.crf import CRF, tag_constraints
from models.graph_conv import EDGE_COLUMNS, GraphConvolution, gather_tokens, scatter_tokens
from models.lstm import ContextBiLSTM


@dataclass(frozen=True)
class NerModelConfig:
    trainable_embeddings: bool = False
    casing_dim: int = 0          # 0: no casing feature
    char_filters: int = 0        # 0: no character CNN
    char_dim: int = 25
    context_units: int = 0       # BiLSTM units per direction; 0: no context layer
    gcn_units: tuple[int, ...] = (150,)
    output: str = "dense"        # dense | crf | gcn ("gcn": the last GCN layer is the softmax, seed_readme)
    skip_connection: bool = False  # output layer also sees the pre-GCN states
    dropout: float = 0.5
    combine: str = "sum"
    normalize: bool = False
    num_bases: int = 0
    edge_weighting: bool = False
    doc_neighbours: int = 0      # document edges per token (0: none; see tasks/ner/batches.py)
    dependency_arcs: bool = True  # False: the graph keeps no parser arc (the document-edges-only ablation)
    edge_gates: bool = False     # Marcheggiani & Titov's scalar gate on every edge
    tag_scheme: str = "iob2"     # iob2 | iobes: the labels the output layer learns (scored as IOB2)

    @property
    def document_inputs(self) -> int:
        """Document edges per token the model reads (0 when it has no graph convolution)."""
        return self.doc_neighbours if self.gcn_units else 0


PRESETS: dict[str, NerModelConfig] = {
    "seed_readme": NerModelConfig(gcn_units=(150,), output="gcn"),
    "seed_train": NerModelConfig(gcn_units=(256, 256), output="dense"),
    "default": NerModelConfig(trainable_embeddings=True, casing_dim=8, char_filters=50, context_units=100,
                              gcn_units=(150,), output="crf", skip_connection=True, normalize=True,
                              num_bases=8, edge_weighting=True, doc_neighbours=6, edge_gates=True,
                              tag_scheme="iobes"),
}


OUTPUTS = ("dense", "crf", "gcn")


def resolve_config(preset: str, gcn_layers: int | None = None, **overrides) -> NerModelConfig:
    """The preset with the non-None overrides applied: ``gcn_units`` sets every layer's
    width, ``gcn_layers`` their number (0: no graph convolution before the output)."""
    config = PRESETS[preset]
    changes = {k: v for k, v in overrides.items() if v is not None}
    units = changes.pop("gcn_units", config.gcn_units[0] if config.gcn_units else 150)
    layers_ = len(config.gcn_units) if gcn_layers is None else gcn_layers
    changes["gcn_units"] = tuple(units for _ in range(layers_))
    if changes.get("output", config.output) not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {changes['output']!r}")
    return dataclasses.replace(config, **changes)


@keras.saving.register_keras_serializable(package="gnn")
class CrfTagger(keras.Model):
    """A functional model whose output layer is a :class:`CRF`: the loss is the negative
    sequence log-likelihood, mean over sentences, so ``compile`` takes no loss. In
    training the CRF passes the emission scores through; in inference it returns the
    Viterbi path one-hot, so ``argmax`` reads the tags as for a softmax model."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not training:
            # In inference the output is the decoded path, not the scores the loss needs.
            raise NotImplementedError("a CRF tagger has no evaluate() loss: score its predictions (span F1)")
        crf = self.get_layer("crf")
        mask = ops.not_equal(x["words"], 0)
        # Mean over real sentences: a batch padded with empty rows (document batches)
        # must weigh each sentence as a full one does.
        real = ops.cast(ops.any(mask, axis=1), "float32")
        ll = crf.log_likelihood(y_pred, y, mask) * real
        loss = -ops.sum(ll) / ops.maximum(ops.sum(real), 1.0)
        for extra in self.losses:
            loss = loss + ops.sum(ops.cast(extra, loss.dtype))
        return loss


@keras.saving.register_keras_serializable(package="gnn")
class CharCNN(layers.Layer):
    """Characters of each word -> conv -> max over the word's real characters. Called on
    ``[chars, nodes]`` it convolves only the words at the flat positions ``nodes`` (-1
    pads; a document batch pads to 2.6x its tokens) and gives every other position -1s,
    as an empty word gets."""

    def __init__(self, num_chars: int, char_dim: int, filters: int, width: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.num_chars, self.char_dim, self.filters, self.width = num_chars, char_dim, filters, width
        self.embed = layers.Embedding(num_chars, char_dim)
        self.conv = layers.Conv1D(filters, width, padding="same", activation="tanh")

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        self.embed.build(input_shape)
        self.conv.build((None, input_shape[-1], self.char_dim))

    def call(self, inputs):
        chars, positions = (inputs[0], inputs[1]) if isinstance(inputs, (list, tuple)) else (inputs, None)
        b, n, c = ops.shape(chars)[0], ops.shape(chars)[1], ops.shape(chars)[2]
        flat = ops.reshape(chars, (-1, c))
        if positions is not None:
            flat = gather_tokens(flat, positions)
        h = self.conv(self.embed(flat))
        present = ops.cast(ops.not_equal(flat, 0), h.dtype)[..., None]
        h = h * present - 2.0 * (1.0 - present)  # tanh >= -1, so padding never wins the max
        h = ops.maximum(ops.max(h, axis=1), -1.0)  # an empty (padding) word gives -1s
        if positions is not None:  # back to every position: -1s where no word was convolved
            h = scatter_tokens(h + 1.0, positions, b * n) - 1.0
        return ops.reshape(h, (b, n, self.filters))

    def get_config(self):
        return {**super().get_config(), "num_chars": self.num_chars, "char_dim": self.char_dim,
                "filters": self.filters, "width": self.width}


def build_ner_model(config: NerModelConfig, vocab_size: int, embedding_dim: int, num_chars: int,
                    num_labels: int, num_dep_labels: int, num_casings: int = 8,
                    labels: list[str] | None = None) -> keras.Model:
    """The tagger; ``labels`` (IOB2 or IOBES names) give a CRF output its hard constraints."""
    words = keras.Input((None,), dtype="int32", name="words")
    casing = keras.Input((None,), dtype="int32", name="casing")
    chars = keras.Input((None, None), dtype="int32", name="chars")
    # The batch's graph as one edge list between its real tokens (models/graph_conv.py):
    # its first axis counts edges, not sentences. ``nodes`` gives each token's flat
    # position in the padded batch (-1 pads); the character CNN and the graph layers
    # compute over these tokens only (graph_conv.compact_graph).
    edges = keras.Input((EDGE_COLUMNS,), dtype="int32", name="edges")
    nodes = keras.Input((), dtype="int32", name="nodes")
    inputs = {"words": words, "casing": casing, "chars": chars, "edges": edges, "nodes": nodes}
    mask = ops.not_equal(words, 0)

    features = [layers.Embedding(vocab_size, embedding_dim, trainable=config.trainable_embeddings,
                                 name="word_embedding")(words)]
    if config.casing_dim:
        features.append(layers.Embedding(num_casings, config.casing_dim, name="casing_embedding")(casing))
    if config.char_filters:
        features.append(CharCNN(num_chars, config.char_dim, config.char_filters, name="char_cnn")([chars, nodes]))
    x = features[0] if len(features) == 1 else layers.Concatenate()(features)

    if config.context_units:
        x = layers.Dropout(config.dropout)(x)
        x = ContextBiLSTM(units=config.context_units, name="context")(x, mask=mask)
    before_gcn = x

    gcn = dict(num_dep_labels=num_dep_labels, combine=config.combine, normalize=config.normalize,
               num_bases=config.num_bases, edge_weighting=config.edge_weighting,
               document_edges=bool(config.document_inputs), dependency_arcs=config.dependency_arcs,
               gates=config.edge_gates)
    for i, units in enumerate(config.gcn_units):
        if config.context_units or i > 0:
            x = layers.Dropout(config.dropout)(x)
        x = GraphConvolution(units, activation="relu", name=f"gcn_{i}", **gcn)([x, edges, nodes], mask=mask)

    if config.output == "gcn":
        x = layers.Dropout(config.dropout)(x)
        scores = GraphConvolution(num_labels, backward_links=False, name="gcn_out", dtype="float32",
                                  **gcn)([x, edges, nodes], mask=mask)
        # Softmax after the layer, not inside it: the layer zeroes padded positions, and a
        # softmax output of all zeros makes JAX's cross-entropy 0/0 = NaN there (NaN x a
        # zero weight is still NaN); zero scores give a harmless uniform row instead.
        out = layers.Activation("softmax", name="tags", dtype="float32")(scores)
    else:
        if config.skip_connection and config.gcn_units:
            x = layers.Concatenate()([before_gcn, x])
        x = layers.Dropout(config.dropout)(x)
        if config.output == "crf":
            scores = layers.Dense(num_labels, name="tags", dtype="float32")(x)
            constraints = tag_constraints(labels) if labels else (None, None, None)
            out = CRF(num_labels, *constraints, name="crf", dtype="float32")(scores, mask=mask)
        else:
            out = layers.Dense(num_labels, activation="softmax", name="tags", dtype="float32")(x)
    model_class = CrfTagger if config.output == "crf" else keras.Model
    return model_class(inputs, out, name="gcn_ner")
