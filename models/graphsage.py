"""GraphSAGE (Hamilton et al. 2017) with Neo4j GDS semantics, in pure keras / keras.ops.

A K-layer encoder embeds a target node from a sampled neighbourhood tree:
level 0 is the targets (B, f), level 1 their sampled neighbours (B, S0, f), level 2 the
neighbours' neighbours (B, S0, S1, f), and so on. Layer k turns every adjacent pair of
levels (self, neighbours) into the next representation, so after K layers only the
targets are left. Final embeddings are L2-normalised.

Aggregators (as GDS):
  mean  h' = act(W . mean({h_self} U {h_neighbours}))      no bias, no concatenation
  pool  h' = act(W_self h_self + W_neigh max_u relu(W_pool h_u + b))

Unsupervised loss (GDS / the paper): for a target u, a positive v reached by a short
random walk and a negative n drawn with probability ~ degree^0.75,
  L = -log sigma(z_u . z_v) - Q log sigma(-z_u . z_n),   Q = negative_sample_weight.
"""
from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="gnn")
class SageLayer(layers.Layer):
    def __init__(self, units: int, aggregator: str = "mean", activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        if aggregator not in ("mean", "pool"):
            raise ValueError(f"aggregator must be 'mean' or 'pool', got {aggregator!r}")
        self.units, self.aggregator = units, aggregator
        self.activation = keras.activations.get(activation)

    def build(self, features_shape, neighbours_shape=None):
        d = int(features_shape[-1])
        if self.aggregator == "mean":
            self.kernel = self.add_weight(name="kernel", shape=(d, self.units), initializer="glorot_uniform")
        else:
            self.pool_kernel = self.add_weight(name="pool_kernel", shape=(d, d), initializer="glorot_uniform")
            self.pool_bias = self.add_weight(name="pool_bias", shape=(d,), initializer="zeros")
            self.self_kernel = self.add_weight(name="self_kernel", shape=(d, self.units), initializer="glorot_uniform")
            self.neigh_kernel = self.add_weight(name="neigh_kernel", shape=(d, self.units), initializer="glorot_uniform")

    def call(self, features, neighbours):
        """features (..., d) of the nodes, neighbours (..., S, d) of their samples -> (..., units)."""
        if self.aggregator == "mean":
            s = ops.cast(ops.shape(neighbours)[-2], features.dtype)
            mean = (features + ops.sum(neighbours, axis=-2)) / (s + 1.0)
            return self.activation(ops.matmul(mean, self.kernel))
        pooled = ops.max(ops.relu(ops.matmul(neighbours, self.pool_kernel) + self.pool_bias), axis=-2)
        return self.activation(ops.matmul(features, self.self_kernel) + ops.matmul(pooled, self.neigh_kernel))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "aggregator": self.aggregator,
                "activation": keras.activations.serialize(self.activation)}


def build_encoder(feature_dim: int, sample_sizes: list[int], embedding_dimension: int, aggregator: str = "mean",
                  activation: str = "relu") -> keras.Model:
    """Inputs ``level0 .. levelK`` (features of the sampled tree) -> L2-normalised (B, dim)."""
    # level k holds (S0, ..., S_{k-1}, f): the k-hop samples of each target.
    levels = [keras.Input(tuple(sample_sizes[:k]) + (feature_dim,), name=f"level{k}")
              for k in range(len(sample_sizes) + 1)]
    h = list(levels)
    for k in range(len(sample_sizes)):
        layer = SageLayer(embedding_dimension, aggregator, activation, name=f"sage_{k}")
        h = [layer(h[j], h[j + 1]) for j in range(len(h) - 1)]
    z = layers.UnitNormalization(axis=-1, name="l2_normalise")(h[0])
    return keras.Model(levels, z, name="graphsage_encoder")


def build_trainer(encoder: keras.Model) -> keras.Model:
    """Wraps the encoder for the unsupervised loss: inputs u*/pos*/neg* trees -> (B, 2)
    scores [z_u . z_pos, z_u . z_neg]."""
    trees = {role: [keras.Input(t.shape[1:], name=f"{role}{k}") for k, t in enumerate(encoder.inputs)]
             for role in ("u", "pos", "neg")}
    z = {role: encoder(inputs) for role, inputs in trees.items()}
    scores = ops.stack([ops.sum(z["u"] * z["pos"], axis=-1), ops.sum(z["u"] * z["neg"], axis=-1)], axis=-1)
    flat = {t.name: t for tree in trees.values() for t in tree}
    return keras.Model(flat, scores, name="graphsage_unsupervised")


def unsupervised_loss(negative_sample_weight: float):
    q = float(negative_sample_weight)

    def loss(y_true, scores):
        # -log sigma(x) = softplus(-x); -log sigma(-x) = softplus(x)
        return ops.softplus(-scores[:, 0]) + q * ops.softplus(scores[:, 1])

    return loss
