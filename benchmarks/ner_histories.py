"""Give older NER seed runs their per-epoch history by training them again.

Run files written before 2026-12-06 keep no dev F1 per epoch, which the patience table
(docs/results.md) replays. On one machine training is deterministic, so a re-run of the
same variant and seed is the same run: this script re-runs each named run that lacks a
history (benchmarks/ner_seeds.py's own ``run_one``), checks that every dev and test
figure, the best epoch and the epochs run equal the file's, and then adds the re-run's
history to the original file, which keeps its own clock and commit (``history_from``
says where the history came from). A re-run that differs leaves the original file as it
was and exits with an error naming the fields: it is another run (e.g. another host).

    python benchmarks/ner_histories.py --variant graph_clip_norm_batch64 --seeds 43 44 45
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import ner_seeds  # noqa: E402
from tasks.common.files import write_json  # noqa: E402

HISTORY = ("dev_f1_by_epoch", "epoch_seconds")


def same_run_fields(record: dict) -> list[str]:
    """The fields two records of one deterministic run must share."""
    return sorted(k for k in record if k.startswith(("dev_", "test_")) and k not in HISTORY) + ["best_epoch",
                                                                                             "epochs_run"]


def merge_history(original: dict, rerun: dict, how: str) -> dict:
    """``original`` with ``rerun``'s per-epoch history; ValueError when the two are not
    the same run (any dev/test figure, the best epoch or the epochs run differ)."""
    differ = [k for k in same_run_fields(original) if original.get(k) != rerun.get(k)]
    if differ:
        raise ValueError(f"the re-run differs from the run file in {', '.join(differ)}: it is another run")
    return {**original, **{k: rerun[k] for k in HISTORY},
            "history_from": f"a re-run at commit {rerun['commit']}, {how}, equal in every dev and test figure, "
                            "the best epoch and the epochs run (benchmarks/ner_histories.py)"}


def add_history(variant: str, seed: int) -> None:
    path = ROOT / ner_seeds.run_file(variant, seed)
    if not path.is_file():
        sys.exit(f"error: {path.relative_to(ROOT)} missing: run benchmarks/ner_seeds.py first")
    original = json.loads(path.read_text())
    if "dev_f1_by_epoch" in original:
        print(f"{variant} seed {seed}: has its history already")
        return
    rerun = ner_seeds.run_one(variant, seed)  # overwrites the file
    try:
        merged = merge_history(original, rerun, time.strftime("%Y-%m-%d"))
    except ValueError as err:
        write_json(path, original)
        sys.exit(f"error: {variant} seed {seed}: {err}; the run file is left as it was")
    write_json(path, merged)
    print(f"{variant} seed {seed}: history added (the re-run is the same run)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", required=True, choices=sorted(ner_seeds.VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, required=True)
    args = ap.parse_args()
    for seed in args.seeds:
        add_history(args.variant, seed)
    ner_seeds.summarise()


if __name__ == "__main__":
    main()
