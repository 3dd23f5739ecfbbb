"""How long ``model.fit`` waits after its last epoch has ended, with Keras's default
``PyDataset`` feeding (TensorFlow: ``from_generator(...).prefetch(AUTOTUNE)``) and with
``workers=2`` (Keras's own ordered thread enqueuer, no tf.data prefetching).

train_ner calls ``fit`` once per epoch and some of its epochs wait about 40 s, both cores
idle, inside ``fit`` while the epoch's tf.data iterator is deleted (docs/benchmarks.md,
"Where a wait sits"). This toy reproduces the shape of that loop: a ``PyDataset`` whose
batches cost some numpy work, a small BiLSTM, one ``fit`` per epoch. Each mode runs in
its own process, one after the other; per call it records the time from Keras's
``on_train_end`` to ``fit`` returning (the teardown) and the whole call.

    python benchmarks/fit_teardown.py --fits 8
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.common.files import write_json  # noqa: E402
from tasks.report.markdown import this_machine  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "fit_teardown.json"
MODES = {"prefetch (Keras default, workers=1)": 1, "ordered enqueuer (workers=2)": 2}

TOY = """
import json, sys, time
import numpy as np, keras

workers, fits = int(sys.argv[1]), int(sys.argv[2])

class Batches(keras.utils.PyDataset):
    def __init__(self, n):
        super().__init__(workers=workers)
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        t = time.perf_counter()
        while time.perf_counter() - t < 0.03:  # ~30 ms of numpy per batch, like a document batch
            np.sort(rng.normal(size=20000))
        length = 40 + (i % 5) * 8
        x = {"a": rng.normal(size=(32, length, 64)).astype("float32"),
             "b": rng.integers(0, 9, size=(4000, 2)).astype("int32")}
        return x, rng.normal(size=(32, length, 1)).astype("float32")

class End(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.t = time.perf_counter()

a, b = keras.Input((None, 64), name="a"), keras.Input((2,), name="b", dtype="int32")
out = keras.layers.Dense(1)(keras.layers.Bidirectional(keras.layers.LSTM(32, return_sequences=True))(a))
model = keras.Model({"a": a, "b": b}, out)
model.compile("adam", "mse")
end, calls = End(), []
for e in range(fits):
    t0 = time.perf_counter()
    model.fit(Batches(150), epochs=e + 1, initial_epoch=e, verbose=0, callbacks=[end])
    t1 = time.perf_counter()
    calls.append({"fit_seconds": round(t1 - t0, 2), "after_train_end_seconds": round(t1 - end.t, 2)})
    print(f"fit {e}: {t1 - t0:.2f} s, {t1 - end.t:.2f} s of it after on_train_end", file=sys.stderr, flush=True)
print(json.dumps(calls))
"""


def run_mode(workers: int, fits: int) -> list[dict]:
    proc = subprocess.run([sys.executable, "-c", TOY, str(workers), str(fits)], capture_output=True, text=True,
                          env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    if proc.returncode != 0:
        sys.exit(f"error: the toy with workers={workers} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise_mode(calls: list[dict]) -> dict:
    """One mode's fit calls, the first left out (it traces the model): how many waited
    over a second after their last epoch had ended, and the seconds in all."""
    calls = calls[1:]
    waits = [c["after_train_end_seconds"] for c in calls]
    return {"calls": calls, "calls_waiting_over_1s": sum(w > 1 for w in waits),
            "wait_seconds_total": round(sum(waits), 2),
            "fit_seconds_total": round(sum(c["fit_seconds"] for c in calls), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fits", type=int, default=8, help="fit calls (epochs) per mode")
    ap.add_argument("--note", default="", help="what else ran meanwhile, kept in the results file")
    args = ap.parse_args()
    result = {"command": f"python benchmarks/fit_teardown.py --fits {args.fits}", "machine": this_machine(),
              "note": args.note, "modes": {}}
    for name, workers in MODES.items():
        mode = result["modes"][name] = summarise_mode(run_mode(workers, args.fits))
        print(f"{name}: {mode['calls_waiting_over_1s']} of {len(mode['calls'])} calls waited over 1 s after their "
              f"last epoch, {mode['wait_seconds_total']:.1f} s in all", flush=True)
    write_json(OUT, result)
    print(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
