"""Expectations on the raw data that `dvc pull` restores (the figures are REFERENCE.md's).
A changed or truncated data set fails here, before any model is trained on it."""
from collections import Counter

import numpy as np
import pytest

from tests.support import ROOT

CONLL = ROOT / "data" / "raw" / "conll2003"
CITEULIKE = ROOT / "data" / "raw" / "citeulike-t"

pytestmark = pytest.mark.skipif(not (CONLL / "train.txt").is_file() or not (CITEULIKE / "users.dat").is_file(),
                                reason="raw data not pulled: run `dvc pull` (make test does)")


@pytest.mark.parametrize("name, sentences, tokens, entities", [
    ("train.txt", 14_041, 203_621, 23_499), ("valid.txt", 3_250, 51_362, 5_942), ("test.txt", 3_453, 46_435, 5_648)])
def test_conll_counts_and_labels(name, sentences, tokens, entities):
    from tasks.ner.conll import label_vocabulary, read_conll

    data = read_conll(CONLL / name, ["PER", "LOC", "ORG", "MISC"])
    tags = Counter(t for s in data for t in s.tags)
    assert len(data) == sentences
    assert sum(len(s.tokens) for s in data) == tokens
    assert sum(n for t, n in tags.items() if t.startswith("B-")) == entities
    assert set(tags) == set(label_vocabulary(["PER", "LOC", "ORG", "MISC"]))


@pytest.fixture(scope="module")
def citeulike():
    from tasks.tags.readers import read_citeulike

    return read_citeulike(CITEULIKE)


def test_citeulike_articles_libraries_and_ids(citeulike):
    articles, members = citeulike.articles, citeulike.memberships
    assert len(articles) == 25_975 and articles["article"].tolist() == list(range(25_975))
    assert members["list"].nunique() == 7_947 and len(members) == 134_860
    assert members["article"].between(0, 25_974).all()
    assert members["article"].nunique() == 25_584  # articles in at least one library
    sizes = members.groupby("list").size().to_numpy()
    assert np.percentile(sizes, 50) == 7 and sizes.max() == 1_995
    assert np.percentile(sizes, 90) == pytest.approx(33, abs=1) and np.percentile(sizes, 99) == pytest.approx(175, abs=2)


def test_citeulike_tags(citeulike):
    counts = citeulike.articles["tags"].explode().value_counts()
    assert len((CITEULIKE / "tags.dat").read_text(encoding="utf-8").splitlines()) == 52_946
    assert int((counts > 100).sum()) == 399 and int((counts > 500).sum()) == 34
    vocabulary = (CITEULIKE / "vocabulary.dat").read_text(encoding="utf-8").splitlines()
    assert len(vocabulary) == 20_000
