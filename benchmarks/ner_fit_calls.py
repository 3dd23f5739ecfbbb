"""One ``model.fit`` over many epochs vs one call per epoch, for the train_ner stage.

train_ner used to call ``model.fit(epochs=40)`` once, its batch sequence reshuffling
itself between epochs; its logged epochs took about 48 s or about 78 s, most of them 78.
It now calls ``fit`` once per epoch, on that epoch's own batches
(tasks/ner/training.py:fit). This script trains the committed default model both ways,
each in its own process from the same seed (no dev scoring). Per epoch it times the
training pass (``on_epoch_begin`` to ``on_epoch_end``) and the span from the previous
epoch's end to its own, which also holds what falls between epochs (a fit call's set-up
and tear-down), by wall clock and by the process's CPU time (user + system, every
thread); and it counts the batches each epoch's sequence held and the batches trained:

  one_call             the first reference: one fit over ``--epochs`` epochs, batches
                       reshuffled between epochs by an on_epoch_end hook, as the stage did
  per_epoch_1_worker   the second: one fit per epoch, its batches fed by one worker
                       (Keras's default: a tf.data prefetch whose autotuning thread the end
                       of each fit waits for), as the stage did until BatchSequence.WORKERS
  per_epoch            the stage now: one fit per epoch, each on a fresh BatchSequence

The first epoch includes tracing (one graph per batch shape); the ratios compare the
means of the later epochs' spans, each way's over the stage's (``per_epoch``). Each call
adds a repeat to the results file (earlier repeats on the same machine are kept): on
this VM one run is not enough.

    python benchmarks/ner_fit_calls.py --epochs 5
    python benchmarks/ner_fit_calls.py --epochs 6 --ways per_epoch_1_worker per_epoch
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.common.settings import quiet_environment, settings  # noqa: E402
from tasks.report.markdown import this_machine  # noqa: E402

quiet_environment()
PREPARED = ROOT / "data" / "prepared" / "ner"
OUT = ROOT / "benchmarks" / "results" / "ner_fit_calls.json"
WAYS = ("one_call", "per_epoch_1_worker", "per_epoch")


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def major_faults() -> int:
    """This process's major page faults so far (/proc/self/stat; 0 where there is none)."""
    try:
        return int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[9])
    except (OSError, IndexError, ValueError):
        return 0


def timed_training(way: str, epochs: int) -> dict:
    """Train the default model ``epochs`` epochs ``way``. Per epoch: its training pass
    (``on_epoch_begin`` to ``on_epoch_end``) and its span, from the previous epoch's end
    (for the first, from before the first fit) to its own, which also holds what happens
    between epochs (a fit call's set-up and tear-down); wall and CPU seconds of each."""
    import keras
    import numpy as np

    from tasks.common.params import load_params
    from tasks.ner.batches import BatchSequence, batch_indices
    from tasks.ner.training import Checkpoint, batching, build_or_resume, epoch_batches, load_prepared, model_config

    class Reshuffling(BatchSequence):
        """The stage's old sequence: one instance for the whole fit, reshuffled per epoch,
        fed by one worker."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, workers=1, **kwargs)

        def on_epoch_end(self) -> None:
            self.epoch += 1
            rng = np.random.default_rng(self.seed + self.epoch)
            self.batches = batch_indices(self.split, self.batch_size, rng, self.documents, self.ladder)

    def mark() -> tuple[float, float, int]:
        return time.perf_counter(), cpu_seconds(), major_faults()

    class Clock(keras.callbacks.Callback):
        """Each epoch's pass and span, the batches its sequence held, the batches trained."""

        def on_epoch_begin(self, epoch, logs=None):
            self.start, self.held, self.trained = mark(), len(seq), 0

        def on_train_batch_end(self, batch, logs=None):
            self.trained += 1

        def on_epoch_end(self, epoch, logs=None):
            end = mark()
            rows.append({"epoch": epoch + 1, "pass_wall_s": end[0] - self.start[0],
                         "pass_cpu_s": end[1] - self.start[1],
                         "span_wall_s": end[0] - ends[-1][0], "span_cpu_s": end[1] - ends[-1][1],
                         "span_major_faults": end[2] - ends[-1][2], "batches": self.held,
                         "batches_trained": self.trained})
            ends.append(end)
            r = rows[-1]
            print(f"{way} epoch {epoch + 1}: pass {r['pass_wall_s']:.1f} s, span {r['span_wall_s']:.1f} s wall, "
                  f"{r['span_cpu_s']:.1f} s CPU", file=sys.stderr, flush=True)

    params = load_params().ner
    tp, config = params.train, model_config(params)
    keras.utils.set_random_seed(tp.seed)
    data = load_prepared(PREPARED, config.tag_scheme)
    rows: list[dict] = []
    seq = None
    with tempfile.TemporaryDirectory() as tmp:
        model, _ = build_or_resume(config, data, tp.learning_rate, Checkpoint(Path(tmp)), tp.clip_norm)

    ends = [mark()]
    if way == "one_call":
        seq = Reshuffling(data.splits["train"], tp.batch_size, tp.max_word_length, seed=tp.seed,
                          word_dropout=tp.word_dropout, **batching(tp, config))
        model.fit(seq, epochs=epochs, callbacks=[Clock()], verbose=0)
    else:
        workers = 1 if way == "per_epoch_1_worker" else None
        for epoch in range(epochs):
            seq = epoch_batches(data, tp, config, epoch, workers)  # the stage's own
            model.fit(seq, epochs=epoch + 1, initial_epoch=epoch, callbacks=[Clock()], verbose=0)
    return {"epochs": rows, "total_wall_s": time.perf_counter() - ends[0][0], "feeding_workers": seq.workers}


def summary(run: dict) -> dict:
    later = run["epochs"][1:]
    mean = lambda key: statistics.mean(r[key] for r in later)  # noqa: E731
    return {"later_pass_wall_s": mean("pass_wall_s"), "later_span_wall_s": mean("span_wall_s"),
            "later_span_cpu_s": mean("span_cpu_s"),
            "later_span_cores_busy": statistics.mean(r["span_cpu_s"] / r["span_wall_s"] for r in later),
            "batches_not_trained": sum(r["batches"] - r["batches_trained"] for r in run["epochs"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=4, help="epochs per way (at least 2; the first is not compared)")
    ap.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS),
                    help="which ways to run (default: all; per_epoch, the stage's, always runs)")
    ap.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.epochs < 2:
        sys.exit("error: --epochs must be at least 2 (the first epoch includes tracing)")
    if args.way:
        print(json.dumps(timed_training(args.way, args.epochs)))
        return
    if not (PREPARED / "train.npz").is_file():
        sys.exit(f"error: {PREPARED} missing: run `dvc repro prepare_ner` first")
    runs = {}
    for way in [w for w in WAYS if w in args.ways or w == "per_epoch"]:
        print(f"{way}: {args.epochs} epochs ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--way", way, "--epochs", str(args.epochs)],
                              stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            sys.exit(f"error: {way} failed (exit {proc.returncode}); its log is above")
        run = json.loads(proc.stdout.strip().splitlines()[-1])
        runs[way] = {**run, **summary(run)}
    ratios = {way: r["later_span_wall_s"] / runs["per_epoch"]["later_span_wall_s"]
              for way, r in runs.items() if way != "per_epoch"}
    print("\n| way | feeding workers | total s | later epochs: pass s | span s | span CPU s | cores busy | "
          "batches not trained |")
    print("|---|---|---|---|---|---|---|---|")
    for way, r in runs.items():
        print(f"| {way} | {r['feeding_workers']} | {r['total_wall_s']:.0f} | {r['later_pass_wall_s']:.1f} | "
              f"{r['later_span_wall_s']:.1f} | {r['later_span_cpu_s']:.1f} | {r['later_span_cores_busy']:.2f} | "
              f"{r['batches_not_trained']} |")
    for way, ratio in ratios.items():
        print(f"later epochs' spans, {way} over per_epoch: {ratio:.2f}x")
    command = " ".join(["python", "benchmarks/ner_fit_calls.py"] + sys.argv[1:])
    repeat = {"date": time.strftime("%Y-%m-%d %H:%M"), "command": command,
              "backend": settings().keras_backend,
              "span_ratios_over_per_epoch": ratios, "runs": runs}
    machine = this_machine()
    previous = json.loads(OUT.read_text()) if OUT.is_file() else {}
    repeats = previous.get("repeats", []) if previous.get("machine") == machine else []
    OUT.write_text(json.dumps({"machine": machine, "command": command, "repeats": repeats + [repeat]}, indent=2)
                   + "\n")
    print(f"written {OUT.relative_to(ROOT)} (repeat {len(repeats) + 1}; earlier runs on this machine are kept)")


if __name__ == "__main__":
    main()
