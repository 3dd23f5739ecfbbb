"""Time the test suite of a checkout, the way `make test` runs it or serially, and record
the wall time, the counts and the slowest tests in benchmarks/results/test_suite.json.

    python benchmarks/test_suite.py --label parallel                     # -n 2 --dist loadfile (make test)
    python benchmarks/test_suite.py --label serial --serial              # one process, the reference
    python benchmarks/test_suite.py --label before --checkout ../before --serial   # another commit

Each label is one entry of the results file; when the entries `serial` and `parallel` are
of the same commit, the file also holds their ratio. Run it with nothing else on the
machine: the suite uses both cores.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.report.markdown import this_machine  # noqa: E402
RESULTS = ROOT / "benchmarks" / "results" / "test_suite.json"
SUMMARY = re.compile(r"^(?:=+ )?(\d+ (?:passed|failed).*?) in ([\d.]+)s", re.M)
SLOW = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)", re.M)


def run_suite(checkout: Path, serial: bool, processes: int = 2) -> dict:
    python = checkout / ".venv" / "bin" / "python"
    cmd = [str(python if python.exists() else sys.executable), "-m", "pytest", "-q", "tests", "--durations=15",
           "-p", "no:cacheprovider"]
    if not serial:
        cmd += ["-n", str(processes), "--dist", "loadfile"]
    elif (checkout / "pyproject.toml").read_text().count("pytest-xdist"):
        cmd += ["-p", "no:xdist"]
    print(f"running {' '.join(cmd[1:])} in {checkout}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=checkout, env={**os.environ, "CI": "true"}, capture_output=True, text=True)
    wall = time.monotonic() - t0
    print(proc.stdout[-6000:], proc.stderr[-2000:], sep="\n", flush=True)
    summary = SUMMARY.findall(proc.stdout)
    counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary[-1][0])) \
        if summary else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True)
    return {"command": " ".join(cmd[1:]), "commit": commit.stdout.strip(), "exit_code": proc.returncode,
            "wall_s": round(wall, 1), "pytest_s": float(summary[-1][1]) if summary else None, "counts": counts,
            "slowest": [{"seconds": float(s), "when": w, "test": t} for s, w, t in SLOW.findall(proc.stdout)][:15],
            "machine": this_machine(),
            "date": time.strftime("%Y-%m-%d")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", required=True, help="the entry's name in the results file")
    ap.add_argument("--checkout", type=Path, default=ROOT, help="the project checkout to test (its .venv)")
    ap.add_argument("--serial", action="store_true", help="one process (the reference), instead of make test's")
    ap.add_argument("--processes", type=int, default=2, help="test processes when not --serial (make test: 2)")
    args = ap.parse_args()
    result = run_suite(args.checkout.resolve(), args.serial, args.processes)
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    data[args.label] = result
    serial, parallel = data.get("serial"), data.get("parallel")  # same commit: their ratio
    if serial and parallel and serial["commit"] == parallel["commit"] and serial["pytest_s"] and parallel["pytest_s"]:
        data["serial_over_parallel"] = round(serial["pytest_s"] / parallel["pytest_s"], 2)
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("wall_s", "pytest_s", "counts", "exit_code")}))
    sys.exit(result["exit_code"])


if __name__ == "__main__":
    main()
