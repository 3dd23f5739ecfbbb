"""benchmarks/ner_probes.py: every template gets every filler once, in text order, and
the scores count exact (type, words) matches."""

import pytest

from tests.support import load_benchmark


@pytest.fixture(scope="module")
def probes():
    return load_benchmark("ner_probes")


def test_each_template_gets_each_filler_once_in_text_order(probes):
    cases = probes.probes()
    assert len(cases) == len(probes.TEMPLATES) * len(probes.FILLERS["PER"])
    for t, template in enumerate(probes.TEMPLATES):
        n = len(probes.FILLERS["PER"])
        block = cases[t * n:(t + 1) * n]
        for etype in ("PER", "ORG", "LOC"):
            if "{" + etype + "}" in template:
                assert sorted(w for _, gold in block for k, w in gold if k == etype) == sorted(probes.FILLERS[etype])
    for sentence, gold in cases:
        positions = [sentence.index(words) for _, words in gold]
        assert positions == sorted(positions)


def test_scores_count_exact_matches(probes, monkeypatch):
    import tasks.ner.inference as inference

    cases = [("A works for B in C .", [("PER", "A"), ("ORG", "B"), ("LOC", "C")]),
             ("D opened in E .", [("ORG", "D"), ("LOC", "E")])]
    answers = {cases[0][0]: [("PER", "A"), ("LOC", "B"), ("LOC", "C")],  # B: wrong type
               cases[1][0]: [("ORG", "D"), ("LOC", "E"), ("MISC", "opened")]}  # one extra
    monkeypatch.setattr(inference, "tag_entities", lambda tagger, text: answers[text])
    classes = {"A": "seen", "B": "unseen", "C": "seen", "D": "unseen", "E": "seen"}
    r = probes.score(None, cases, classes)
    assert (r["entities"], r["predicted"], r["correct"]) == (5, 6, 4)
    assert r["precision"] == pytest.approx(4 / 6) and r["recall"] == pytest.approx(4 / 5)
    assert r["f1"] == pytest.approx(2 * (4 / 6) * (4 / 5) / (4 / 6 + 4 / 5))
    assert r["sentences_exact"] == 0.0
    assert r["recall_by_type"] == {"LOC": 1.0, "ORG": 0.5, "PER": 1.0}
    assert r["recall_by_class"] == {"seen": {"recall": 1.0, "slots": 3}, "unseen": {"recall": 0.5, "slots": 2}}
