"""GraphSAGE training with Keras's own batch feeding (``workers=1``: each batch is built
when its step asks for it) against SageBatches' two feeding threads (``workers=2``:
Keras's ordered enqueuer builds the next batches while the model trains), on the
prepared citeulike-t graph and text (run ``dvc repro sample_graph`` first).

Each mode trains the same preset and seed for a few epochs in its own process, through
the stage's own loop (``tasks.tags.sage.fit_and_embed``), one after the other, modes
alternating when ``--rounds`` > 1; per epoch it records the seconds the stage reports,
and at the end a digest of the encoder's weights: the modes must train the same
weights (the batches are a function of seed, epoch and step alone).

    python benchmarks/sage_feeding.py --preset default --epochs 4
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.common import paths  # noqa: E402
from tasks.common.files import write_json  # noqa: E402
from tasks.report.markdown import host_cpu, this_machine  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "sage_feeding.json"
MODES = {"Keras's own feeding (workers=1)": 1, "two feeding threads (workers=2, the stage's)": 2}

TRAIN = """
import hashlib, json, sys, dataclasses
import numpy as np
import tasks.tags.sage as sage
from models.graphsage import resolve_config

preset, epochs, workers, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), 42
p = dataclasses.replace(resolve_config(preset), epochs=epochs)
if p.objective != "unsupervised":
    sys.exit(f"preset {preset!r} is not trained unsupervised; this benchmark times the unsupervised loop")
built = []

class Fed(sage.SageBatches):  # the stage's own batches, fed with `workers`, kept to read back
    WORKERS = workers

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        built.append(self)

sage.SageBatches = Fed
encoder, _, history, _ = sage.fit_and_embed(p, seed)  # the stage's own loop
(batches,) = built
if batches.workers != workers:
    sys.exit(f"{len(batches)} steps an epoch: too few for feeding threads, SageBatches feeds them one way either way")
digest = hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes() for w in encoder.get_weights())).hexdigest()
print(json.dumps({"epoch_seconds": [round(h["seconds"], 2) for h in history],
                  "steps_per_epoch": len(batches), "weights_sha256": digest}))
"""


def run_mode(preset: str, epochs: int, workers: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", TRAIN, preset, str(epochs), str(workers)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    if proc.returncode != 0:
        sys.exit(f"error: training with workers={workers} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(runs: list[dict]) -> dict:
    """A mode's rounds: the first epoch (it traces the model) and the later ones apart."""
    later = [s for r in runs for s in r["epoch_seconds"][1:]]
    return {"rounds": runs, "steps_per_epoch": runs[0]["steps_per_epoch"],
            "first_epoch_s": round(sum(r["epoch_seconds"][0] for r in runs) / len(runs), 2),
            "later_epoch_s": round(sum(later) / len(later), 2),
            "weights_sha256": sorted({r["weights_sha256"] for r in runs})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="default", help="an unsupervised GraphSAGE preset (default: default)")
    ap.add_argument("--epochs", type=int, default=4, help="epochs per run (the first one traces the model)")
    ap.add_argument("--rounds", type=int, default=1, help="runs per mode, the modes alternating")
    ap.add_argument("--note", default="", help="what else ran meanwhile, kept in the results file")
    args = ap.parse_args()
    if args.epochs < 2 or args.rounds < 1:
        ap.error("--epochs must be at least 2 (the first traces the model) and --rounds at least 1")
    missing = [p for p in (paths.TEXT_EMBEDDINGS, paths.GRAPH) if not (ROOT / p).is_file()]
    if missing:
        sys.exit(f"error: {', '.join(map(str, missing))} missing: run `dvc repro sample_graph` first")
    runs: dict[str, list[dict]] = {name: [] for name in MODES}
    for _ in range(args.rounds):
        for name, workers in MODES.items():
            runs[name].append(run_mode(args.preset, args.epochs, workers))
    modes = {name: summarise(r) for name, r in runs.items()}
    plain, threaded = (modes[name] for name in MODES)
    result = {"command": f"python benchmarks/sage_feeding.py --preset {args.preset} --epochs {args.epochs}"
                         + (f" --rounds {args.rounds}" if args.rounds > 1 else ""),
              "machine": this_machine(), "cpu": host_cpu(), "date": datetime.date.today().isoformat(),
              "note": args.note, "preset": args.preset, "modes": modes,
              "later_epoch_ratio_plain_over_threads": round(plain["later_epoch_s"] / threaded["later_epoch_s"], 2),
              "same_weights": len({d for m in modes.values() for d in m["weights_sha256"]}) == 1}
    for name, mode in modes.items():
        print(f"{name}: first epoch {mode['first_epoch_s']:.1f} s, later epochs {mode['later_epoch_s']:.1f} s")
    print(f"later epochs, workers=1 over workers=2: {result['later_epoch_ratio_plain_over_threads']:.2f}x; "
          f"same weights: {result['same_weights']}")
    write_json(OUT, result)
    print(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
