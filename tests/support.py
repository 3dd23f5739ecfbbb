"""Shared test support: tiny configurations (params.yaml plus explicit overrides), small
data sets (slices of the real files when pulled, else generated) and throw-away projects.

Every test module imports what it shares from here; no test module imports another.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "data" / "raw" / "conll2003"
FILES = ("train.txt", "valid.txt", "test.txt")

# Tiny configurations: overrides of the project's params.yaml, never a second set of defaults.
TINY_NER = {"ner.data.max_sentences": 40, "ner.model.context_units": 8, "ner.model.gcn_units": 8,
            "ner.model.char_filters": 4, "ner.train.epochs": 3, "ner.train.batch_size": 8, "ner.train.patience": 5}
TINY_TAGS = {"tags.sampling.sampling_ratio": 0.5, "tags.sage.sample_sizes": [4, 3],
             "tags.sage.embedding_dimension": 16, "tags.sage.epochs": 3, "tags.sage.batch_size": 16,
             "tags.sage.search_depth": 3, "tags.evaluate.min_count": 5, "tags.evaluate.untagged_sample": 5,
             "tags.evaluate.max_iter": 100, "tags.evaluate.seeds": [1, 2], "tags.sage.compare": ["random"]}


def load_benchmark(name: str):
    """A fresh copy of the script ``benchmarks/<name>.py`` as a module (its globals are
    the test's to patch; nothing is registered in ``sys.modules``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_bench", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def project_params_raw(overrides: dict[str, Any] | None = None) -> dict:
    """The project's params.yaml as data, with ``overrides`` (dotted keys) applied."""
    from tasks.common.params import apply_overrides, read_raw

    return apply_overrides(read_raw(ROOT / "params.yaml"), overrides or {})


def tiny_params(overrides: dict[str, Any] | None = None):
    """Validated Params: params.yaml plus ``overrides``."""
    from tasks.common.params import validate_params

    return validate_params(project_params_raw(overrides), "params.yaml + test overrides")

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


def make_project(tmp_path: Path, overrides: dict) -> tuple[Path, dict]:
    """A fresh git + DVC project holding this code, the project's params.yaml plus
    ``overrides``, and isolated Prefect/MLflow homes; the caller adds data."""
    from benchmarks.workspaces import copy_workspace

    return copy_workspace(tmp_path / "proj", project_params_raw(overrides), tmp_path)


def copy_project(proj: Path, tmp_path: Path) -> tuple[Path, dict]:
    """A private copy of a finished project (shared fixtures hand these out: never the
    original, so no test sees another test's changes)."""
    from benchmarks.workspaces import copy_finished

    return copy_finished(proj, tmp_path)


def commit_data(proj: Path, env: dict, *folders: str) -> None:
    """Track data folders with DVC and commit, as the real project's data/raw/*.dvc are:
    a DVC experiment runs in a copy made from git, which holds the .dvc files only."""
    import subprocess
    import sys

    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]
    for cmd in ([sys.executable, "-m", "dvc", "add", "-q", *folders], git + ["add", "-A"],
                git + ["commit", "-qm", "data"]):
        subprocess.run(cmd, cwd=proj, env=env, check=True, capture_output=True)


OUTPUT_FOLDERS = ("metrics", "plots", "artifacts", "data/prepared")  # where the stages write


def output_files(proj: Path) -> list[Path]:
    return [p for folder in OUTPUT_FOLDERS for p in sorted((proj / folder).rglob("*")) if p.is_file()]


def workspace_bytes(proj: Path) -> dict[str, bytes]:
    """params.yaml, dvc.lock and every output in a workspace, byte for byte."""
    files = [proj / "params.yaml", proj / "dvc.lock", *output_files(proj)]
    return {str(p.relative_to(proj)): p.read_bytes() for p in files}


def differing(seen: dict, reference: dict) -> list[str]:
    """The paths whose content differs, or that one side lacks: assertion messages that
    name files instead of printing their bytes."""
    missing = object()
    return sorted(k for k in seen.keys() | reference.keys() if seen.get(k, missing) != reference.get(k, missing))


class WorkspaceWatcher:
    """While its block runs, records every write to params.yaml, dvc.lock and the output
    folders of ``proj`` through Linux inotify: each modification, creation, deletion,
    move or attribute change, however brief (a file written and put back within a
    millisecond is caught, and no CPU is spent polling); at the end it also compares the
    bytes with those it held when the block began. ``changed`` names each path written,
    missing or differing."""

    WATCHED_FILES = ("params.yaml", "dvc.lock")
    # IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE |
    # IN_DELETE_SELF | IN_MOVE_SELF
    _EVENTS = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
    _OVERFLOW = 0x4000  # IN_Q_OVERFLOW: events were lost, so count everything as changed

    def __init__(self, proj: Path):
        self.proj, self.before = proj, workspace_bytes(proj)
        self.changed: set[str] = set()
        self.watches: dict[int, Path] = {}
        self._fd = -1

    def __enter__(self) -> "WorkspaceWatcher":
        import ctypes
        import os

        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        folders = [self.proj] + [d for name in OUTPUT_FOLDERS for top in [self.proj / name] if top.is_dir()
                                 for d in [top, *sorted(p for p in top.rglob("*") if p.is_dir())]]
        for folder in folders:
            wd = self._libc.inotify_add_watch(self._fd, str(folder).encode(), self._EVENTS)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
            self.watches[wd] = folder
        return self

    def _events(self):
        """(watched folder, name, mask) of every event queued so far."""
        import os
        import struct

        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, size = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16:offset + 16 + size].rstrip(b"\0").decode(errors="replace")
                offset += 16 + size
                yield self.watches.get(wd), name, mask

    def __exit__(self, *exc) -> None:
        import os

        try:
            for folder, name, mask in self._events():
                if mask & self._OVERFLOW:
                    self.changed.add("(inotify queue overflow: events lost)")
                    continue
                if folder == self.proj and name not in (*self.WATCHED_FILES, *(f.split("/")[0] for f in OUTPUT_FOLDERS)):
                    continue  # elsewhere in the project (.dvc/tmp, .cache, ...): not the workspace's results
                path = (folder / name if name else folder) if folder is not None else None
                self.changed.add(path.relative_to(self.proj).as_posix() if path is not None else f"(event {mask:#x})")
        finally:
            os.close(self._fd)
        self.changed.update(differing(workspace_bytes(self.proj), self.before))


WALL_CLOCK = ("second", "time", "per_s")  # keys and columns that measure time, not results


def _without_wall_clock(path: Path, data: bytes):
    import csv
    import io
    import json

    if path.suffix == ".json":
        def strip(node):
            if isinstance(node, dict):
                return {k: strip(v) for k, v in node.items() if not any(w in k for w in WALL_CLOCK)}
            return [strip(v) for v in node] if isinstance(node, list) else node
        return strip(json.loads(data))
    if path.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        return [{k: v for k, v in row.items() if not any(w in k for w in WALL_CLOCK)} for row in rows]
    return data


def comparable_outputs(proj: Path) -> dict[str, Any]:
    """Every DVC output of a workspace as comparable values: bytes, or JSON/CSV content
    without wall-clock fields. Keras files are left out: they carry their save date
    (what they predict is in the predictions files). A file that cannot be read whole
    (half-written) shows as "<unreadable>"."""
    out: dict[str, Any] = {}
    for p in output_files(proj):
        if p.suffix == ".keras":
            continue
        try:
            out[str(p.relative_to(proj))] = _without_wall_clock(p, p.read_bytes())
        except FileNotFoundError:
            continue  # removed while listed (DVC clears a stage's outputs before it runs)
        except (OSError, ValueError):
            out[str(p.relative_to(proj))] = "<unreadable>"
    return out


def run_ok(cmd: list[str], cwd: Path, env: dict, timeout: int = 600):
    import subprocess

    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


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


def train_tiny_ner(base: Path) -> Path:
    """Prepare and train a small default-preset tagger under ``base``; returns its
    artifact folder."""
    import os

    from tasks.common import paths
    from tasks.ner.preparation import prepare
    from tasks.ner.training import train

    write_behaviour_conll(base / "raw")
    # IOB2, not the default's IOBES: on these 300 template sentences an IOBES tagger does
    # not tag a one-token unknown name as subject ("Zorblaxian works for ..."): S-PER is
    # learnt from the 30% of names that are one token, where IOB2's B-PER is learnt from
    # all of them (measured at 12 and 20 epochs; with IOB2 it is tagged PER). The real
    # model's behaviour is `make test-model`'s to check.
    params = tiny_params({"ner.data.dir": str(base / "raw"), "ner.model.context_units": 16,
                          "ner.model.gcn_units": 16, "ner.model.char_filters": 16, "ner.train.epochs": 12,
                          "ner.train.patience": 12, "ner.train.batch_size": 16,
                          "ner.model.tag_scheme": "iob2"}).ner
    here = os.getcwd()
    os.chdir(base)
    try:
        prepare(params, paths.NER_PREPARED)
        train(params)
    finally:
        os.chdir(here)
    return base / paths.NER_ARTIFACTS


def train_tiny_tags(base: Path) -> Path:
    """Run the tag pipeline's library functions on the tiny citeulike slice under
    ``base``; returns ``base`` (the trained files sit at their usual relative paths)."""
    import os

    from tasks.common import paths
    from tasks.tags.evaluation import evaluate_and_save
    from tasks.tags.graph_io import project, sample
    from tasks.tags.readers import read_tables
    from tasks.tags.sage import train
    from tasks.tags.tables import save_tables
    from tasks.tags.text_encoders import embed

    write_citeulike_slice(base / "raw")
    params = tiny_params({**TINY_TAGS, "tags.data.dir": str(base / "raw")})
    here = os.getcwd()
    os.chdir(base)
    try:
        save_tables(read_tables("citeulike", base / "raw"), paths.ARTICLES)
        embed(params.tags)
        project(params.tags)
        sample(params.tags)
        train(params)
        evaluate_and_save(params.tags)
    finally:
        os.chdir(here)
    return base


def wait_until(what: str, check, timeout: float, poll: float = 2.0):
    """``check()``'s first truthy value, polled; a clear failure after ``timeout`` s."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def remote_files(remote: Path) -> dict[str, bytes]:
    """Every file of a DVC remote folder, by path inside it."""
    return {str(p.relative_to(remote)): p.read_bytes() for p in sorted(remote.rglob("*")) if p.is_file()}


def half_written(files: dict[str, bytes]) -> list[str]:
    """Objects of a DVC remote whose content does not hash to their name."""
    import hashlib

    bad = []
    for name, data in files.items():
        if name.startswith("files/md5/"):
            digest = name.removeprefix("files/md5/").replace("/", "").removesuffix(".dir")
            if hashlib.md5(data).hexdigest() != digest:
                bad.append(name)
    return bad


def log_tails(*logs: Path, lines: int = 60) -> str:
    """The last lines of each log, for an assertion message (the state folder is gone
    by the time a person reads the failure)."""
    parts = []
    for log in logs:
        text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else ["(no log)"]
        parts.append(f"--- {log} ---\n" + "\n".join(text))
    return "\n".join(parts)
