"""GraphSAGE layers, encoder and loss; training on a two-community graph separates them."""
import keras
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from models.graphsage import SageLayer, build_encoder, build_trainer, unsupervised_loss
from tasks.tags.graph import Graph


def test_mean_layer_matches_formula():
    rng = np.random.default_rng(0)
    h, nb = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 5, 3)).astype("float32")
    layer = SageLayer(2, "mean", "relu")
    layer(h, nb)
    W = rng.normal(size=(3, 2)).astype("float32")
    layer.set_weights([W])
    want = np.maximum(((h + nb.sum(1)) / 6.0) @ W, 0)
    np.testing.assert_allclose(np.asarray(layer(h, nb)), want, atol=1e-5)


def test_pool_layer_matches_formula():
    rng = np.random.default_rng(1)
    h, nb = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 5, 3)).astype("float32")
    layer = SageLayer(2, "pool", "sigmoid")
    layer(h, nb)
    Wp, bp, Ws, Wn = [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights([Wp, bp, Ws, Wn])
    pooled = np.maximum(nb @ Wp + bp, 0).max(1)
    want = 1 / (1 + np.exp(-(h @ Ws + pooled @ Wn)))
    np.testing.assert_allclose(np.asarray(layer(h, nb)), want, atol=1e-5)


@pytest.mark.parametrize("aggregator", ["mean", "pool"])
def test_encoder_shapes_and_unit_norm(aggregator):
    enc = build_encoder(6, [4, 3], 8, aggregator)
    rng = np.random.default_rng(2)
    z = np.asarray(enc([rng.normal(size=s).astype("float32") for s in [(5, 6), (5, 4, 6), (5, 4, 3, 6)]]))
    assert z.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)


def test_loss_formula_and_direction():
    loss = unsupervised_loss(20.0)
    scores = np.array([[0.9, -0.5], [-0.5, 0.9]], "float32")
    got = np.asarray(loss(None, scores))
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    want = -np.log(sig(scores[:, 0])) - 20 * np.log(sig(-scores[:, 1]))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got[0] < got[1]  # close positive, far negative is the cheap case


def test_training_separates_two_communities(tmp_path, monkeypatch):
    from tasks.tags.sage import SageBatches, embed_all
    from tests.support import tiny_params

    keras.utils.set_random_seed(0)
    ref = nx.disjoint_union(nx.complete_graph(15), nx.complete_graph(15))
    ref.add_edge(0, 15)
    g = Graph(sp.csr_matrix(nx.to_scipy_sparse_array(ref, nodelist=range(30), format="csr").astype("float32")))
    features = np.random.default_rng(0).normal(size=(30, 8)).astype("float32")
    p = tiny_params({"tags.sage.sample_sizes": [5, 5], "tags.sage.embedding_dimension": 16, "tags.sage.batch_size": 10,
                     "tags.sage.search_depth": 2, "tags.sage.learning_rate": 0.01,
                     "tags.sage.negative_sample_weight": 1.0, "tags.sage.epochs": 30,
                     "tags.sage.max_iterations": 0}).tags.sage
    enc = build_encoder(8, p.sample_sizes, p.embedding_dimension)
    trainer = build_trainer(enc)
    trainer.compile(optimizer=keras.optimizers.Adam(p.learning_rate), loss=unsupervised_loss(p.negative_sample_weight))
    batches = SageBatches(g, features, p)
    hist = trainer.fit(batches, epochs=p.epochs, verbose=0).history["loss"]
    assert hist[-1] < hist[0]
    z = embed_all(enc, g, features, p.sample_sizes, seed=0)
    sim = z @ z.T
    community = np.arange(30) >= 15
    same = community[:, None] == community[None, :]
    assert sim[same].mean() > sim[~same].mean() + 0.2
