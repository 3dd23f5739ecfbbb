"""Tagging schemes: IOB2 (what the data and the scorer use) and IOBES (what a tagger may
be trained on).

IOBES marks a chunk's last token (``E-``) and single-token chunks (``S-``), so the output
layer learns where a name ends, not only where it starts; Ratinov & Roth (2009) and
Lample et al. (2016) found it slightly better than IOB on CoNLL-2003. Training converts
the gold IOB2 tags to IOBES; predictions are converted back with :func:`to_iob2` before
they are scored, so every metric stays the IOB2 strict span F1.
"""
from __future__ import annotations

from typing import Sequence

SCHEMES = ("iob2", "iobes")


def iob2_to_iobes(tags: Sequence[str]) -> list[str]:
    """Well-formed IOB2 -> IOBES: a chunk of one token is ``S-``, a longer one ``B- I-* E-``."""
    out = []
    for i, tag in enumerate(tags):
        continues = i + 1 < len(tags) and tags[i + 1] == f"I-{tag[2:]}"
        if tag.startswith("B-"):
            out.append(tag if continues else "S-" + tag[2:])
        elif tag.startswith("I-"):
            out.append(tag if continues else "E-" + tag[2:])
        else:
            out.append(tag)
    return out


def to_iob2(tags: Sequence[str]) -> list[str]:
    """IOBES (or IOB2, unchanged) -> IOB2: ``S-`` opens a chunk, ``E-`` continues one.
    Exact inverse of :func:`iob2_to_iobes` on well-formed sequences; an ill-formed one
    (``O E-PER``) gives what the conlleval reading of its IOB2 form gives."""
    return ["B-" + t[2:] if t.startswith("S-") else "I-" + t[2:] if t.startswith("E-") else t for t in tags]


def scheme_labels(iob2_labels: Sequence[str], scheme: str) -> list[str]:
    """The label vocabulary of ``scheme`` built from the IOB2 one (``O, B-X, I-X, ...``):
    IOBES adds ``E-X`` and ``S-X`` after each type's ``B-X, I-X``."""
    if scheme not in SCHEMES:
        raise ValueError(f"tag scheme must be one of {SCHEMES}, got {scheme!r}")
    if scheme == "iob2":
        return list(iob2_labels)
    types = [t[2:] for t in iob2_labels if t.startswith("B-")]
    return ["O"] + [f"{p}-{t}" for t in types for p in "BIES"]


def relabel(sentences: Sequence[Sequence[int]], iob2_labels: Sequence[str], scheme: str) -> list[list[int]]:
    """Sentences' IOB2 label ids as ids of :func:`scheme_labels` ``(iob2_labels, scheme)``."""
    labels = scheme_labels(iob2_labels, scheme)
    if scheme == "iob2":
        return [list(ids) for ids in sentences]
    index = {t: i for i, t in enumerate(labels)}
    return [[index[t] for t in iob2_to_iobes([iob2_labels[k] for k in ids])] for ids in sentences]
