"""CoNLL reader: 4-column (token POS chunk NER) or 2-column (token NER) files, tags in
IOB1 or IOB2, returned as IOB2, each sentence with the index of its document (the
``-DOCSTART-`` lines). Every defect is reported as ``file:line``."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tasks.common.files import DataError

_TAG = re.compile(r"^(?:O|([BI])-(.*))$")
_LAYOUTS = {4: "token POS chunk NER", 2: "token NER"}


@dataclass(frozen=True)
class Sentence:
    tokens: tuple[str, ...]
    tags: tuple[str, ...]  # IOB2
    line: int  # 1-based line of the first token, for error messages downstream
    doc: int = 0  # index of the sentence's document in its file


def iob1_to_iob2(tags: list[str]) -> list[str]:
    """I-X that does not continue an X chunk opens one (B-X). Idempotent on IOB2."""
    out: list[str] = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def _decode_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(path, None, "file not found")
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    out = []
    for number, line in enumerate(lines, start=1):
        try:
            out.append(line.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as err:
            raise DataError(path, number, f"not valid UTF-8 (byte {err.start}: {line[err.start:err.start+1]!r})") from None
    return out


def read_conll(path: Path | str, entity_types: list[str] | tuple[str, ...], max_sentences: int = 0) -> list[Sentence]:
    """Read one CoNLL file. ``max_sentences`` > 0 stops after that many sentences.

    A ``-DOCSTART-`` line opens a document. A file without any is read as independent
    sentences (each its own document), so no cross-sentence edge links unrelated text."""
    path = Path(path)
    types = set(entity_types)
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    doc = -1  # no -DOCSTART- seen yet
    layout: int | None = None

    def flush() -> None:
        nonlocal tokens, tags
        if tokens:
            sentences.append(Sentence(tuple(tokens), tuple(iob1_to_iob2(tags)), start, max(doc, 0)))
        tokens, tags = [], []

    for number, line in enumerate(_decode_lines(path), start=1):
        if max_sentences and len(sentences) >= max_sentences:
            break
        if not line.strip():
            flush()
            continue
        cols = line.split()
        if cols[0] == "-DOCSTART-":
            flush()
            doc += 1
            continue
        if len(cols) not in _LAYOUTS:
            raise DataError(path, number, f"expected 4 columns ({_LAYOUTS[4]}) or 2 ({_LAYOUTS[2]}), found {len(cols)}")
        if layout is None:
            layout = len(cols)
        elif len(cols) != layout:
            raise DataError(path, number, f"found {len(cols)} columns but the file started with {layout}")
        tag = cols[-1]
        match = _TAG.match(tag)
        if match is None:
            raise DataError(path, number, f"unknown tag {tag!r} (expected O, B-TYPE or I-TYPE)")
        if match.group(1):
            etype = match.group(2)
            if not etype:
                raise DataError(path, number, f"tag {tag!r} has no entity type")
            if etype not in types:
                raise DataError(path, number, f"unknown entity type {etype!r} in {tag!r}; known: {sorted(types)} (ner.data.entity_types)")
        if not tokens:
            start = number
        tokens.append(cols[0])
        tags.append(tag)
    if not (max_sentences and len(sentences) >= max_sentences):
        flush()
    if not sentences:
        raise DataError(path, None, "no sentences found (empty file?)")
    if doc < 0:
        sentences = [Sentence(s.tokens, s.tags, s.line, i) for i, s in enumerate(sentences)]
    return sentences


def label_vocabulary(entity_types: list[str] | tuple[str, ...]) -> list[str]:
    """IOB2 labels in a fixed order: O, then B-/I- per type as given."""
    labels = ["O"]
    for t in entity_types:
        labels += [f"B-{t}", f"I-{t}"]
    return labels
