"""What a stage process spends before its own work: the CPU-seconds of a fresh Python
process that goes one step further each time, from a bare interpreter to a stage's MLflow
run in an existing SQLite store, and TensorFlow's import beside it.

The test suite runs about 150 tiny stages, each in a process of its own (`dvc repro
--single-item`), whose work is a fraction of a second: what they cost is this start-up.

    python benchmarks/stage_startup.py [--repeats 7]

Each step runs ``--repeats`` times, the steps taking turns so that a host that speeds up or
slows down meanwhile touches them alike; the table gives each step's median CPU-seconds
(user + system, from wait4) and what it adds to the step before. Run it with nothing else
on the machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.common.files import write_json  # noqa: E402
from tasks.common.settings import quiet_environment  # noqa: E402
from tasks.report.markdown import host_cpu, short_commit, this_machine  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "stage_startup.json"
RUN = "from tasks.common.tracking import stage_run\nwith stage_run('bench', 'stage-startup', {'p': 1}) as m:\n" \
      "    m.log_metrics({'m': 1.0})\n"
# (name, code): each step does what the one before it did, and one thing more.
STEPS = [
    ("interpreter", "pass"),
    ("+ the stage runner (params, settings, YAML, NumPy)", "import numpy, tasks.common.stage, tasks.common.params"),
    ("+ import mlflow", "import numpy, tasks.common.stage, tasks.common.params, mlflow"),
    ("+ a stage's MLflow run in an existing SQLite store", "import numpy, tasks.common.stage\n" + RUN),
    ("+ import tensorflow (a stage that trains)", "import numpy, tasks.common.stage, tensorflow\n" + RUN),
]


def cpu_seconds(code: str, env: dict[str, str]) -> float:
    """User + system CPU-seconds of one fresh ``python -c code`` in the project root."""
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"step failed (exit {proc.returncode}): {code!r}")
    return usage.ru_utime + usage.ru_stime


def measure(repeats: int, env: dict[str, str]) -> list[dict]:
    times: dict[str, list[float]] = {name: [] for name, _ in STEPS}
    for round_ in range(repeats):
        for name, code in STEPS:
            times[name].append(cpu_seconds(code, env))
        print(f"round {round_ + 1}/{repeats}: " + ", ".join(f"{t[-1]:.2f}" for t in times.values()), flush=True)
    rows, before = [], 0.0
    for name, _ in STEPS:
        median = statistics.median(times[name])
        rows.append({"step": name, "cpu_s_median": round(median, 3), "adds_s": round(median - before, 3),
                     "cpu_s_each": [round(t, 3) for t in times[name]]})
        before = median
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    quiet_environment()
    with tempfile.TemporaryDirectory(prefix="stage-startup-") as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db", "PYTHONPATH": str(ROOT)}
        cpu_seconds("import numpy, tasks.common.stage\n" + RUN, env)  # creates the store: not timed
        rows = measure(args.repeats, env)
    by_name = {row["step"]: row["cpu_s_median"] for row in rows}
    mlflow_s = by_name[STEPS[3][0]] - by_name[STEPS[1][0]]  # what MLflow adds to a stage process
    write_json(RESULT, {"steps": rows, "mlflow_in_a_stage_s": round(mlflow_s, 3), "repeats": args.repeats,
                        "command": "python benchmarks/stage_startup.py",
                        "commit": short_commit(ROOT), "machine": this_machine(), "host_cpu": host_cpu(),
                        "date": time.strftime("%Y-%m-%d")})
    for row in rows:
        print(f"{row['cpu_s_median']:6.2f} s  (+{row['adds_s']:.2f})  {row['step']}")


if __name__ == "__main__":
    main()
