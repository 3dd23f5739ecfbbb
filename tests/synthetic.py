"""Small data sets for tests: slices of the real CoNLL-2003 files when pulled, else
generated sentences; a two-community citeulike-t-shaped set and the same in the Medium
CSV format; the behaviour tests' template data and held-out probes."""
from __future__ import annotations

import random
from pathlib import Path

RAW = Path(__file__).resolve().parent.parent / "data" / "raw" / "conll2003"
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


_WORDS = ["graph", "network", "protein", "gene", "cell", "learning", "neural", "model", "data", "analysis",
          "social", "brain", "language", "image", "energy", "climate", "market", "theory", "evolution", "drug"]


def write_citeulike_slice(dest: Path, n_articles: int = 120, n_lists: int = 30, seed: int = 0) -> None:
    """A small citeulike-t-shaped data set with two topical communities, so lists,
    words and tags agree and the tag task is learnable."""
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    topic = [i % 2 for i in range(n_articles)]
    mult = []
    for i in range(n_articles):
        words = rng.sample(range(10 * topic[i], 10 * topic[i] + 10), 4)
        mult.append(f"{len(words)} " + " ".join(f"{w}:{rng.randint(1, 3)}" for w in words))
    users = []
    for u in range(n_lists):
        t = u % 2
        items = sorted({rng.choice([i for i in range(n_articles) if topic[i] == t]) for _ in range(rng.randint(3, 9))})
        if u == 0:
            items = list(range(0, n_articles, 7))  # one mixed list connects the two topics
        users.append(f"{len(items)} " + " ".join(map(str, items)))
    tags = ["biology", "computing", "misc", "rare"]
    members = {"biology": [i for i in range(n_articles) if topic[i] == 0],
               "computing": [i for i in range(n_articles) if topic[i] == 1],
               "misc": rng.sample(range(n_articles), 40), "rare": [1, 2]}
    (dest / "vocabulary.dat").write_text("\n".join(_WORDS))
    (dest / "mult.dat").write_text("\n".join(mult))
    (dest / "users.dat").write_text("\n".join(users))
    (dest / "tags.dat").write_text("\n".join(tags))
    (dest / "tag-item.dat").write_text("\n".join(f"{len(members[t])} " + " ".join(map(str, members[t])) for t in tags))


def write_medium_slice(dest: Path, n_articles: int = 120, n_lists: int = 30, seed: int = 0) -> None:
    """The same two-community data in the Medium CSV format (titles, JSON tag lists,
    list memberships by URL); one tag holds a comma, as real tags may."""
    import csv
    import json

    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    topic = [i % 2 for i in range(n_articles)]
    url = [f"https://medium.example/p/{i}" for i in range(n_articles)]
    tag_names = ["biology", "computing", "misc, etc"]
    with open(dest / "medium_articles.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["story", "title", "date", "author", "tags"])
        for i in range(n_articles):
            title = " ".join(rng.sample(_WORDS[10 * topic[i]:10 * topic[i] + 10], 4))
            tags = [tag_names[topic[i]]] + ([tag_names[2]] if rng.random() < 0.3 else [])
            w.writerow([url[i], title, "2023-01-01", f"author{i % 7}", json.dumps(tags)])
    with open(dest / "medium_lists.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["article", "list"])
        for u in range(n_lists):
            members = {rng.choice([i for i in range(n_articles) if topic[i] == u % 2]) for _ in range(rng.randint(3, 9))}
            for i in sorted(members | ({0, 7, 14} if u == 0 else set())):
                w.writerow([url[i], f"list{u}"])


# ----------------------------------------------------------------------------- behaviour
# The behaviour tests probe the tagger with a template and person names that the tiny CI
# model never sees in training (tests/model; test_behaviour_data.py checks that they are
# held out), so a pass means it generalised rather than remembered.
PROBE_TEMPLATE = "{} works for Siemens in Berlin ."
PROBE_NAMES = ("John Smith", "Maria Lopez", "Wei Zhang", "Grace Kim", "Carlos Silva")
TAG_PROBE_TEXT = "protein gene cell analysis"  # words of one topic, in no article of the tiny slice
_FIRST = ["Anna", "Peter", "Fatima", "Yuki", "Ivan", "Omar", "Lena", "David", "Sofia", "Ahmed", "Clara", "Paul",
          "Nina", "Jorge", "Mei"]
_LAST = ["Muller", "Brown", "Khan", "Garcia", "Tanaka", "Petrov", "Haddad", "Novak", "Wilson", "Rossi", "Said",
         "Weber", "Martin", "Ivanova", "Chen"]
_ORG_NAMES = ["Siemens", "Reuters", "Google", "Nestle", "Toyota", "Oxfam", "Fiat", "Nokia", "Shell", "Philips"]
_PLACE_NAMES = ["Berlin", "Paris", "Tokyo", "Madrid", "Cairo", "Lima", "Oslo", "Delhi", "Rome", "Boston"]
_TEMPLATES = [  # none of them says "works for"
    "{PER} visited {LOC} on Monday .", "{ORG} said {PER} will lead the team .", "Officials in {LOC} met {PER} .",
    "{PER} joined {ORG} last year .", "{ORG} opened an office in {LOC} .", "{PER} left {ORG} and moved to {LOC} .",
]


def _made_up_name(rng: random.Random) -> str:
    syllables = ["ka", "lo", "mi", "ren", "to", "vas", "dor", "li", "an", "sel", "bru", "no", "quin", "zef", "ta"]
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).capitalize()


def _behaviour_sentence(rng: random.Random) -> list[tuple[str, str]]:
    # Most names are seen once (as in news text), so the tagger must read capitalisation,
    # characters and context rather than memorise a name list.
    first = rng.choice(_FIRST) if rng.random() < 0.3 else _made_up_name(rng)
    last = rng.choice(_LAST) if rng.random() < 0.3 else _made_up_name(rng)
    person = [first, last] if rng.random() < 0.7 else [last]
    fills = {"PER": person, "ORG": [rng.choice(_ORG_NAMES)], "LOC": [rng.choice(_PLACE_NAMES)]}
    out = []
    for word in rng.choice(_TEMPLATES).split():
        if word.startswith("{"):
            kind = word[1:-1]
            out += [(w, ("B-" if i == 0 else "I-") + kind) for i, w in enumerate(fills[kind])]
        else:
            out.append((word, "O"))
    return out


def write_behaviour_conll(dest: Path, sizes=(300, 80, 80), seed: int = 0) -> None:
    """Template sentences with many names, so a tiny tagger can learn what the
    behaviour tests ask of the real one (names, organisations, places in context)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, n in zip(FILES, sizes):
        rng = random.Random(f"{seed}-{name}")
        blocks = ["\n".join(f"{w} {t}" for w, t in _behaviour_sentence(rng)) for _ in range(n)]
        (dest / name).write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
