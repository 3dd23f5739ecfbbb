"""Strict span precision/recall/F1 with conlleval semantics.

A span counts as correct only when its type, start and end all match the gold span.
Ill-formed sequences (``O I-PER``) are read as conlleval reads them: an ``I-X`` that does
not continue an X chunk opens one. On well-formed IOB2 this equals seqeval's strict mode.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

from tasks.ner.conll import iob1_to_iob2

Span = tuple[int, int, int, str]  # (sentence, start, end exclusive, type)


def spans(tags: Sequence[str], sentence: int = 0) -> list[Span]:
    out: list[Span] = []
    tags = iob1_to_iob2(list(tags))
    start, etype = -1, ""
    for i, tag in enumerate(list(tags) + ["O"]):
        if etype and not (tag.startswith("I-") and tag[2:] == etype):
            out.append((sentence, start, i, etype))
            etype = ""
        if tag.startswith("B-"):
            start, etype = i, tag[2:]
    return out


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "support": n_gold}


def span_scores(gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]]) -> dict:
    """Overall and per-type strict scores over sentences of tags (F1 as a fraction)."""
    gold_spans: set[Span] = set()
    pred_spans: set[Span] = set()
    for s, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sentence {s}: {len(g)} gold tags but {len(p)} predicted")
        gold_spans.update(spans(g, s))
        pred_spans.update(spans(p, s))
    correct = gold_spans & pred_spans
    by_type = lambda spans_: Counter(sp[3] for sp in spans_)  # noqa: E731
    tp_t, pred_t, gold_t = by_type(correct), by_type(pred_spans), by_type(gold_spans)
    result = _prf(len(correct), len(pred_spans), len(gold_spans))
    result["per_type"] = {t: _prf(tp_t[t], pred_t[t], gold_t[t]) for t in sorted(set(gold_t) | set(pred_t))}
    return result
