"""The default NER model's training step at two git revisions, side by side.

Speed work on the tagger (its layers, its batches) changes code, not configuration, so
its reference is the code before: a git revision. This script checks the reference out
into a temporary worktree and starts one worker process per revision (this checkout and
the reference), each importing its own revision's ``models`` and ``tasks``. Both build
the default preset from seed 0, train on the same real batches of a training epoch
(document batches, as the stage does; the prepared data of this checkout), and warm up
over all of them (one trace per batch shape). Then they take turns: each round times
``--steps`` steps of one, then of the other, so drift in the machine's speed hits both
alike. Reported: the median ms per step over rounds, and the ratio reference / current.
The last loss of each is printed beside: the revisions should train the same model.
Each comparison is kept in the results file under its ``--label`` (what changed); a new
one replaces an earlier comparison of the same two commits.

    python benchmarks/ner_step_revisions.py --reference 60faa32 --label "real tokens only"
    python benchmarks/ner_step_revisions.py --reference HEAD~1 --rounds 3 --steps 20
"""
from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREPARED = ROOT / "data" / "prepared" / "ner"
OUT = ROOT / "benchmarks" / "results" / "ner_step_revisions.json"


def worker(root: str, prepared: str, batches: int) -> None:
    """Serve timing requests on stdin (``<first> <count>``: time those steps) with the
    revision at ``root``; answer one JSON line per request."""
    sys.path.insert(0, root)
    from tasks.common.settings import quiet_environment

    quiet_environment()
    import keras

    from models.ner import build_ner_model, resolve_config
    from tasks.ner.batches import BatchSequence
    from tasks.ner.training import load_prepared

    config = resolve_config("default")
    data = load_prepared(Path(prepared), config.tag_scheme)
    v = data.vocab
    keras.utils.set_random_seed(0)
    # Built here, not by train_ner's build_or_resume (as the other NER benchmarks do): the
    # reference revision may predate that function or its signature, and both revisions
    # must build alike. So no gradient clipping: a step here is the default's without it.
    model = build_ner_model(config, len(v["words"]), data.embeddings.shape[1], len(v["chars"]), len(data.labels),
                            len(v["relations"]), labels=data.labels)
    model.get_layer("word_embedding").set_weights([data.embeddings])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    train = BatchSequence(data.splits["train"], 32, 24, seed=0, documents=True, doc_neighbours=config.doc_neighbours)
    chosen = [train[i % len(train)] for i in range(batches)]
    for x, y, w in chosen:
        model.train_on_batch(x, y, sample_weight=w)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        first, count = map(int, line.split())
        t0 = time.perf_counter()
        for x, y, w in chosen[first:first + count]:
            loss = model.train_on_batch(x, y, sample_weight=w)
        print(json.dumps({"ms_per_step": (time.perf_counter() - t0) / count * 1000, "loss": float(loss)}), flush=True)


def start(root: Path, batches: int) -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(root), "--batches", str(batches)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root)
    if not json.loads(proc.stdout.readline() or "{}").get("ready"):
        raise SystemExit(f"error: the worker for {root} did not start (see its output above)")
    return proc


def ask(proc: subprocess.Popen, first: int, count: int) -> dict:
    proc.stdin.write(f"{first} {count}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=False, help="the git revision to compare with (e.g. a commit)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40, help="training steps per revision per round")
    ap.add_argument("--label", default="", help="what changed between the revisions (the table's first column)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--batches", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, str(PREPARED), args.batches)
    if not args.reference:
        ap.error("--reference is required")
    if not (PREPARED / "train.npz").is_file():
        sys.exit(f"error: {PREPARED} missing: run `dvc repro prepare_ner` first")
    reference = git("rev-parse", "--verify", f"{args.reference}^{{commit}}")
    # Benchmark results (this script's own file among them) are not code: they make no "+changes".
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results")
    current = git("rev-parse", "HEAD") + ("+changes" if changed else "")
    count = args.rounds * args.steps
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("error: stopped"))  # so the worktree is removed
    workers: dict[str, subprocess.Popen] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "reference"
        git("worktree", "add", "--detach", str(tree), reference)
        try:
            print(f"warming up both revisions over {count} batches (one trace per shape) ...", flush=True)
            workers["current"] = start(ROOT, count)
            workers["reference"] = start(tree, count)
            times, losses = {k: [] for k in workers}, {}
            for r in range(args.rounds):
                for name, proc in workers.items():
                    answer = ask(proc, r * args.steps, args.steps)
                    times[name].append(answer["ms_per_step"])
                    losses[name] = answer["loss"]
                print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.1f} ms/step" for k, v in times.items()),
                      flush=True)
        finally:
            for proc in workers.values():
                proc.kill()
                proc.wait()
            git("worktree", "remove", "--force", str(tree))
    sys.path.insert(0, str(ROOT))  # only here: a worker must import its own revision's packages
    from tasks.report.markdown import this_machine

    median = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "label": args.label, "machine": this_machine(), "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/ner_step_revisions.py " + " ".join(sys.argv[1:]),
        "current": current, "reference": reference, "rounds": args.rounds, "steps_per_round": args.steps,
        "ms_per_step": times, "median_ms_per_step": median, "last_loss": losses,
        "speedup_current_over_reference": median["reference"] / median["current"],
    }
    earlier = json.loads(OUT.read_text())["comparisons"] if OUT.exists() else []
    kept = [c for c in earlier if (c["reference"], c["current"]) != (reference, current)]
    OUT.write_text(json.dumps({"comparisons": kept + [result]}, indent=2) + "\n")
    print(f"median ms/step: current {median['current']:.1f}, reference {median['reference']:.1f} "
          f"({result['speedup_current_over_reference']:.2f}x); last loss {losses}; written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
