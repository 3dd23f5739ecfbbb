"""Tag inference for a new article: inductive Jaccard neighbours, the whole prediction on
a tiny model, and the messages for bad input."""
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from tasks.tags.graph import Graph, incidence, jaccard_projection
from tasks.common.files import DataError
from tasks.tags.inference import TagModel, TagModelFiles, inductive_neighbours, load_tag_model, predict_tags


def random_memberships(seed: int, n_articles: int = 60, n_lists: int = 25):
    rng = np.random.default_rng(seed)
    pairs = [(a, l) for a in range(n_articles) for l in range(n_lists) if rng.random() < 0.12]
    articles, lists = map(np.array, zip(*pairs))
    return incidence(articles, lists, n_articles, n_lists), rng


def brute_force(B, query, cutoff, degree_cutoff, top_k, max_list_size):
    """Jaccard over Python sets, with the new article counted in its lists' sizes."""
    n, m = B.shape
    sets = [set(B[i].indices) for i in range(n)]
    size = {l: sum(l in s for s in sets) + (l in query) for l in range(m)}
    ok = {l for l in range(m) if not max_list_size or size[l] <= max_list_size}
    mine = set(query) & ok
    if len(mine) < degree_cutoff or not mine:
        return []
    scored = []
    for i, s in enumerate(sets):
        theirs = s & ok
        if len(theirs) < degree_cutoff or not theirs & mine:
            continue
        score = np.float32(len(theirs & mine)) / np.float32(len(theirs | mine))
        if score >= cutoff:
            scored.append((i, score))
    return sorted(scored, key=lambda t: (-t[1], t[0]))[:top_k]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("max_list_size,top_k,degree_cutoff,cutoff",
                         [(0, 2000, 1, 1e-42), (8, 2000, 1, 1e-42), (8, 5, 2, 0.1), (0, 3, 1, 0.0)])
def test_inductive_neighbours_match_brute_force_jaccard(seed, max_list_size, top_k, degree_cutoff, cutoff):
    B, rng = random_memberships(seed)
    query = np.sort(rng.choice(B.shape[1], size=4, replace=False))
    ids, scores = inductive_neighbours(B, query, cutoff, degree_cutoff, top_k, max_list_size)
    want = brute_force(B, set(query.tolist()), cutoff, degree_cutoff, top_k, max_list_size)
    assert ids.tolist() == [i for i, _ in want]
    np.testing.assert_allclose(scores, [s for _, s in want], rtol=1e-6)
    # and the transductive projection's row for the article appended to the data
    row = sp.csr_matrix((np.ones(len(query), np.float32), (np.zeros(len(query), int), query)), shape=(1, B.shape[1]))
    S = jaccard_projection(sp.vstack([B, row]).tocsr(), cutoff, degree_cutoff, top_k, max_list_size)
    last = S[B.shape[0]]
    full = dict(zip(last.indices.tolist(), last.data.tolist()))
    assert full == pytest.approx(dict(zip(ids.tolist(), scores.tolist())))


def test_new_article_in_no_kept_list_has_no_neighbours():
    B, _ = random_memberships(0)
    sizes = np.asarray(B.sum(0)).ravel()
    big = np.flatnonzero(sizes >= 5)[:2]
    ids, scores = inductive_neighbours(B, big, max_list_size=4)
    assert len(ids) == 0 and len(scores) == 0
    assert len(inductive_neighbours(B, np.array([], int))[0]) == 0


@pytest.fixture(scope="module")
def tiny_model():
    """Six articles in three lists, a 4-word encoder, an untrained GraphSAGE encoder and
    a LabelPowerset fitted on random features: enough to run every step."""
    from models.graphsage import build_encoder
    from tasks.tags.text_encoders import TextEncoder, encode_texts
    from tasks.tags.classification import classifier

    words = np.array(["cell", "gene", "graph", "network"])
    G = np.array([[1, 0, 0], [0.8, 0.2, 0], [0, 0, 1], [0, 0.5, 0.5]], np.float32)
    encoder = TextEncoder("tfidf-glove", words, np.ones(4), G, np.ones(4, np.float32))
    features = encode_texts(encoder, ["cell gene", "gene", "cell", "graph", "network graph", "network"])
    B = incidence(np.array([0, 1, 2, 3, 4, 5, 0]), np.array([0, 0, 0, 1, 1, 2, 1]), 6, 3)
    g = Graph(sp.csr_matrix((np.ones(8, np.float32), ([0, 1, 0, 2, 3, 4, 3, 5], [1, 0, 2, 0, 4, 3, 5, 3])), shape=(6, 6)))
    rng = np.random.default_rng(0)
    X, Y = rng.random((40, 3 + 8)), np.eye(3, dtype=int)[rng.integers(0, 3, 40)]
    info = {"projection": {"similarity_cutoff": 1e-42, "degree_cutoff": 1, "top_k": 2000, "max_list_size": 0},
            "sage": {"sample_sizes": [3, 2], "seed": 1}}
    return TagModel(encoder, build_encoder(3, [3, 2], 8), g, features, B, {"L0": 0, "L1": 1, "L2": 2},
                    classifier(50).fit(X, Y), ["biology", "computing", "misc"], info)


def test_predict_tags_on_a_tiny_model(tiny_model):
    p = predict_tags(tiny_model, "gene cell", ["L0", "L0"])
    assert p.neighbours == 3 and p.best_jaccard == 1.0  # articles 1, 2 are in L0 only; 0 in L0 and L1
    assert p.tags and set(p.tags) <= {"biology", "computing", "misc"}
    probs = [v for _, v in p.top]
    assert len(p.top) == 3 and probs == sorted(probs, reverse=True) and all(0 <= v <= 1 for v in probs)
    assert predict_tags(tiny_model, "gene cell", ["L0"]) == p  # seeded: same input, same answer
    alone = predict_tags(tiny_model, "unknown words only", [])
    assert alone.neighbours == 0 and len(alone.notes) == 2


def test_graph_tags_come_from_the_neighbours_scores(tiny_model):
    """With a C&S state in which every existing article scores "misc" 1 (and nothing
    else), a new article in a list gets "misc" from its neighbours; one in no list gets
    only what its own damped classifier scores reach, here nothing."""
    import dataclasses

    n, tags = tiny_model.features.shape[0], len(tiny_model.tags)
    scores = np.zeros((n, tags), np.float32)
    scores[:, 2] = 1.0
    smoothing = {"method": "concat_cs", "scores": scores, "errors": np.zeros((n, tags), np.float32), "sigma": 0.0,
                 "alphas": {"correct_alpha": 0.5, "smooth_alpha": 0.9}, "thresholds": np.full(tags, 0.5)}
    model = dataclasses.replace(tiny_model, smoothing=smoothing)
    assert predict_tags(model, "gene cell", ["L0"]).graph_tags == ["misc"]
    assert predict_tags(model, "gene cell", []).graph_tags == []  # 0.1 x a probability < 0.5
    assert predict_tags(tiny_model, "gene cell", ["L0"]).graph_tags == []  # no C&S state: an older model


def test_predict_tags_bad_input(tiny_model):
    with pytest.raises(DataError, match="empty text"):
        predict_tags(tiny_model, "   ", ["L0"])
    with pytest.raises(DataError, match=r"unknown list id\(s\) 'user9', 'x'"):
        predict_tags(tiny_model, "gene", ["L0", "user9", "x"])


def cli(monkeypatch, capsys, *argv):
    from tasks.predict import main

    monkeypatch.setattr(sys, "argv", ["predict", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


def test_predict_cli_messages(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no outputs, no dvc.lock, no params.yaml
    code, err = cli(monkeypatch, capsys, "tags", "--text", " ", "--lists", "user1")
    assert code == 2 and "empty text" in err
    code, err = cli(monkeypatch, capsys, "tags", "--text", "protein folding", "--lists", "user1")
    assert code == 2 and "no trained tag model yet" in err and "dvc repro evaluate_tags" in err
    with pytest.raises(DataError, match="no trained tag model yet"):
        load_tag_model(TagModelFiles())
    code, err = cli(monkeypatch, capsys, "ner", "John lives in Paris .")
    assert code == 2 and "no trained NER model yet" in err and "dvc repro train_ner" in err


def test_predict_cli_registry_without_models(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setattr("mlflow.tracking._tracking_service.utils._tracking_uri", None)  # restored afterwards
    code, err = cli(monkeypatch, capsys, "tags", "--text", "protein", "--lists", "u", "--source", "registry")
    assert code == 2 and "no registered model 'gnn-tags'" in err and "python -m flows.tags" in err
