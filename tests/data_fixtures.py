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
    """A fresh git + DVC project holding this code, complete params.yaml (defaults plus
    ``overrides``) and isolated Prefect/MLflow homes; the caller adds data."""
    import os
    import shutil
    import subprocess
    import sys

    import yaml

    from tasks.params import Params, apply_overrides

    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("tasks", "models", "flows"):
        shutil.copytree(ROOT / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(ROOT / name, proj / name)
    (proj / ".dvc").mkdir()
    (proj / ".dvc" / "config").write_text("[core]\n    site_cache_dir = .dvc/site\n    autostage = false\n")
    # DVC needs every tracked key present, so write the complete defaults plus overrides.
    (proj / "params.yaml").write_text(yaml.safe_dump(apply_overrides(Params().model_dump(), overrides), sort_keys=False))
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PYTHONPATH": str(proj)}
    env.pop("MLFLOW_RUN_ID", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    for cmd in (["git", "init", "-q"], git + ["add", "-A"], git + ["commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=proj, env=env, check=True, capture_output=True)
    return proj, env


def run_ok(cmd: list[str], cwd: Path, env: dict, timeout: int = 600):
    import subprocess

    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc
