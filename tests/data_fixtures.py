"""Small CoNLL data for tests: a slice of the real files when pulled, else generated."""
from __future__ import annotations

import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "data" / "raw" / "conll2003"
FILES = ("train.txt", "valid.txt", "test.txt")

_PEOPLE = [("John", "Smith"), ("Maria", "Lopez"), ("Wei", "Zhang"), ("Anna", "Müller")]
_PLACES = ["Paris", "Berlin", "Tokyo", "New York"]
_ORGS = ["Reuters", "Siemens", "the United Nations"]


def _synthetic_sentence(rng: random.Random) -> list[tuple[str, str]]:
    first, last = rng.choice(_PEOPLE)
    place = rng.choice(_PLACES).split()
    org = rng.choice(_ORGS).split()
    toks = [(first, "B-PER"), (last, "I-PER"), ("works", "O"), ("for", "O")]
    toks += [(w, "O" if w == "the" else ("B-ORG" if i == 0 or org[0] == "the" and i == 1 else "I-ORG"))
             for i, w in enumerate(org)]
    toks += [("in", "O")] + [(w, "B-LOC" if i == 0 else "I-LOC") for i, w in enumerate(place)] + [(".", "O")]
    return toks


def write_conll_slice(dest: Path, sentences: int = 40, seed: int = 0) -> None:
    """Write train/valid/test with ``sentences`` each into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (RAW / name).is_file():
            blocks = (RAW / name).read_text(encoding="utf-8").split("\n\n")
            text = "\n\n".join(blocks[: sentences + 1]) + "\n"
        else:
            rng = random.Random(f"{seed}-{name}")
            text = "\n\n".join("\n".join(f"{w} {t}" for w, t in _synthetic_sentence(rng)) for _ in range(sentences))
            text += "\n"
        (dest / name).write_text(text, encoding="utf-8")
