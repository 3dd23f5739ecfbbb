"""TensorFlow's thread pools for train_ner on this CPU: its own choice against one thread per op.

TensorFlow runs a graph's ops on an inter-op pool (independent ops side by side) and lets
each op split its work over an intra-op pool; by default both have one thread per core.
The tagger's ops are small (a training batch holds ~360 tokens), so splitting one op over
the cores may cost more in hand-offs than it gains, and one thread per op leaves the cores
to independent ops (the BiLSTM's two directions and length groups, the character CNN
beside the word features, ...). This script measures it as train_ner trains: each setting
in its own process (threads are fixed when TensorFlow starts), the committed default
built by train_ner's own function from seed 0, the same real training batches (epoch 0's
document batches), warmed up over ``--warmup`` batches (one trace per batch shape), then
``--steps`` timed training steps and one timed dev scoring pass (every dev sentence, as
after each epoch). The settings take turns round by round, in alternating order, so the
VM's drift in speed (seconds long) hits them alike; ratios are paired within a round.

    python benchmarks/ner_threads.py
    python benchmarks/ner_threads.py --rounds 2 --steps 50 --settings tensorflow one_per_op
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ner_step_parts import build  # noqa: E402
from tasks.common.files import write_json  # noqa: E402
from tasks.common.settings import quiet_environment  # noqa: E402

PREPARED = ROOT / "data" / "prepared" / "ner"
OUT = ROOT / "benchmarks" / "results" / "ner_threads.json"
REFERENCE = "tensorflow"
# name -> (intra-op threads, inter-op threads); 0 leaves TensorFlow's choice (one per core)
SETTINGS = {REFERENCE: (0, 0), "one_per_op": (1, 0), "one_per_op_inter4": (1, 4)}


def timed_setting(name: str, warmup: int, steps: int) -> dict:
    """In this process: ``warmup`` then ``steps`` timed training steps of the default, and
    one timed dev scoring pass, under setting ``name``."""
    quiet_environment()
    import tensorflow as tf

    intra, inter = SETTINGS[name]
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    from models.ner import resolve_config
    from tasks.common.params import load_params
    from tasks.ner.training import batching, epoch_batches, load_prepared, predict_tags

    tp = load_params(ROOT / "params.yaml").ner.train
    config = resolve_config("default")
    data = load_prepared(PREPARED, config.tag_scheme)
    model = build({}, data, tp)
    epoch = epoch_batches(data, tp.model_copy(update={"seed": 0}), config, 0)
    batches = [epoch[i % len(epoch)] for i in range(warmup + steps)]
    score_dev = lambda: predict_tags(model, data.splits["dev"], data.labels, tp.batch_size,  # noqa: E731
                                     tp.max_word_length, **batching(tp, config))
    for x, y, w in batches[:warmup]:
        model.train_on_batch(x, y, sample_weight=w)
    score_dev()  # traces the prediction programs
    wall, cpu_s = time.perf_counter(), time.process_time()
    for x, y, w in batches[warmup:]:
        model.train_on_batch(x, y, sample_weight=w)
    wall, cpu_s = time.perf_counter() - wall, time.process_time() - cpu_s
    t0 = time.perf_counter()
    score_dev()
    return {"ms_per_step": wall / steps * 1000, "cores_busy": cpu_s / wall, "dev_scoring_s": time.perf_counter() - t0,
            "intra_op_threads": intra, "inter_op_threads": inter, "epoch_steps": len(epoch)}


def run_round(names: list[str], warmup: int, steps: int) -> dict[str, dict]:
    out = {}
    for name in names:
        proc = subprocess.run([sys.executable, __file__, "--worker", name, "--warmup", str(warmup),
                               "--steps", str(steps)], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            sys.exit(f"error: setting {name} failed:\n{proc.stderr[-3000:]}")
        out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def summarise(rounds: list[dict[str, dict]]) -> dict:
    """Per setting: its figures per round, their medians, and its speed-up over the
    reference paired within each round (reference ms / setting ms, > 1: faster)."""
    names = list(rounds[0])
    out = {}
    for name in names:
        ms = [r[name]["ms_per_step"] for r in rounds]
        dev = [r[name]["dev_scoring_s"] for r in rounds]
        ratios = [r[REFERENCE]["ms_per_step"] / r[name]["ms_per_step"] for r in rounds]
        dev_ratios = [r[REFERENCE]["dev_scoring_s"] / r[name]["dev_scoring_s"] for r in rounds]
        out[name] = {"threads": [rounds[0][name]["intra_op_threads"], rounds[0][name]["inter_op_threads"]],
                     "ms_per_step": ms, "median_ms_per_step": statistics.median(ms),
                     "cores_busy": statistics.median(r[name]["cores_busy"] for r in rounds),
                     "dev_scoring_s": dev, "median_dev_scoring_s": statistics.median(dev),
                     "speedup": ratios, "median_speedup": statistics.median(ratios),
                     "rounds_faster": sum(x > 1 for x in ratios), "median_dev_speedup": statistics.median(dev_ratios)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=60, help="untimed training steps first (tracing)")
    ap.add_argument("--steps", type=int, default=200, help="timed training steps per setting and round")
    ap.add_argument("--worker", choices=list(SETTINGS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rounds < 1 or args.steps < 1 or args.warmup < 0:
        ap.error("--rounds and --steps must be at least 1, --warmup at least 0")
    if args.worker:
        print(json.dumps(timed_setting(args.worker, args.warmup, args.steps)))
        return
    if not (PREPARED / "train.npz").is_file():
        sys.exit(f"error: {PREPARED} missing: run `dvc repro prepare_ner` first")
    names = [REFERENCE] + [s for s in args.settings if s != REFERENCE]
    rounds = []
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        rounds.append(run_round(order, args.warmup, args.steps))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{n} {rounds[-1][n]['ms_per_step']:.1f} ms/step"
                                                           for n in names), flush=True)
    from tasks.report.markdown import host_cpu, this_machine

    result = {"machine": this_machine(), "cpu": host_cpu(), "date": time.strftime("%Y-%m-%d %H:%M"),
              "command": "python benchmarks/ner_threads.py " + " ".join(sys.argv[1:]), "reference": REFERENCE,
              "rounds": args.rounds, "warmup": args.warmup, "steps_per_round": args.steps,
              "settings": summarise(rounds)}
    write_json(OUT, result)
    for name, s in result["settings"].items():
        print(f"{name} (intra {s['threads'][0]}, inter {s['threads'][1]}): {s['median_ms_per_step']:.1f} ms/step, "
              f"{s['median_speedup']:.2f}x the reference, faster in {s['rounds_faster']} of {args.rounds} rounds")
    print(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
