"""Strict span scores against seqeval (an independent implementation)."""
import random

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from tasks.ner.conll import iob1_to_iob2
from tasks.ner.span_f1 import span_scores, spans

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def random_sentences(rng, n, well_formed):
    out = []
    for _ in range(n):
        seq = [rng.choice(TAGS) for _ in range(rng.randint(1, 12))]
        out.append(iob1_to_iob2(seq) if well_formed else seq)
    return out


def test_spans_basic():
    assert spans(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-ORG"]) == [
        (0, 0, 2, "PER"), (0, 3, 4, "LOC"), (0, 4, 5, "LOC"), (0, 5, 6, "ORG")]


@pytest.mark.parametrize("seed", range(5))
def test_equals_seqeval_strict_on_iob2(seed):
    rng = random.Random(seed)
    gold = random_sentences(rng, 60, True)
    pred = [g if rng.random() < 0.3 else s for g, s in zip(gold, random_sentences(rng, 60, True))]
    pred = [p if len(p) == len(g) else g for g, p in zip(gold, pred)]
    pred = [iob1_to_iob2([t if rng.random() > 0.2 else rng.choice(TAGS) for t in p]) for p in pred]
    ours = span_scores(gold, pred)
    kw = dict(mode="strict", scheme=IOB2)
    assert ours["f1"] == pytest.approx(f1_score(gold, pred, **kw))
    assert ours["precision"] == pytest.approx(precision_score(gold, pred, **kw))
    assert ours["recall"] == pytest.approx(recall_score(gold, pred, **kw))
    report = classification_report(gold, pred, output_dict=True, zero_division=0, **kw)
    for etype, sc in ours["per_type"].items():
        if etype in report:
            assert sc["f1"] == pytest.approx(report[etype]["f1-score"])


@pytest.mark.parametrize("seed", range(5))
def test_ill_formed_predictions_read_as_conlleval(seed):
    rng = random.Random(100 + seed)
    gold = random_sentences(rng, 40, True)
    pred = [[rng.choice(TAGS) for _ in g] for g in gold]
    # seqeval's default mode follows conlleval's chunking of ill-formed sequences.
    assert span_scores(gold, pred)["f1"] == pytest.approx(f1_score(gold, pred))


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        span_scores([["O", "O"]], [["O"]])
