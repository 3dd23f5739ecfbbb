"""Time the test suite of a checkout, the way `make test` runs it or serially, and record
the wall time, the counts, the slowest tests, how busy the CPUs were (sampled from
/proc/stat every few seconds), which kinds of process spent the CPU-seconds
(benchmarks/process_cpu.py) and each test file's process and span (the pytest plugin
benchmarks/suite_timeline.py) in benchmarks/results/test_suite.json.

    python benchmarks/test_suite.py --label parallel                     # -n 2 --dist loadfile --no-loadscope-reorder (make test)
    python benchmarks/test_suite.py --label serial --serial              # one process, the reference
    python benchmarks/test_suite.py --label before --checkout ../before --serial   # another commit
    python benchmarks/test_suite.py --label test-fast --tests tests/unit   # make test-fast's part

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
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.process_cpu import ProcessCpu  # noqa: E402
from benchmarks.records import record  # noqa: E402
from tasks.report.markdown import short_commit, this_machine  # noqa: E402
RESULTS = ROOT / "benchmarks" / "results" / "test_suite.json"
SUMMARY = re.compile(r"^(?:=+ )?(\d+ (?:passed|failed).*?) in ([\d.]+)s", re.M)
SLOW = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)", re.M)


def cpu_jiffies() -> tuple[int, int]:
    """(total, idle + iowait) jiffies of all CPUs since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


class CpuSampler(threading.Thread):
    """Samples the machine's CPU jiffies every ``every`` seconds until stopped."""

    def __init__(self, every: float = 5.0):
        super().__init__(daemon=True)
        self.every, self.samples, self._stop_event = every, [(time.time(), *cpu_jiffies())], threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            self.samples.append((time.time(), *cpu_jiffies()))

    def stop(self) -> list[tuple[float, int, int]]:
        self._stop_event.set()
        self.join()
        self.samples.append((time.time(), *cpu_jiffies()))
        return self.samples


def busy_cpu_seconds(samples: list[tuple[float, int, int]]) -> float:
    """The CPU-seconds all cores were busy between the first and the last sample."""
    (_, total0, idle0), (_, total1, idle1) = samples[0], samples[-1]
    return ((total1 - total0) - (idle1 - idle0)) / os.sysconf("SC_CLK_TCK")


def busy(samples: list[tuple[float, int, int]]) -> tuple[float, list[float]]:
    """The CPUs' busy fraction over the whole run and per minute of it."""
    def fraction(a, b):
        return 1 - (b[2] - a[2]) / (b[1] - a[1]) if b[1] > a[1] else 0.0

    minutes: dict[int, list] = {}
    for a, b in zip(samples, samples[1:]):
        minutes.setdefault(int((a[0] - samples[0][0]) // 60), []).append((a, b))
    return round(fraction(samples[0], samples[-1]), 3), [
        round(fraction(pairs[0][0], pairs[-1][1]), 2) for _, pairs in sorted(minutes.items())]


def file_spans(timeline: Path) -> list[dict]:
    """Per test file: the process that ran it, when it started and ended (seconds from the
    first test) and the seconds its tests took; longest first."""
    records = [json.loads(line) for line in timeline.read_text(encoding="utf-8").splitlines()]
    if not records:
        return []
    origin = min(r["start"] or r["end"] for r in records)
    files: dict[str, dict] = defaultdict(lambda: {"start": float("inf"), "end": 0.0, "seconds": 0.0})
    for r in records:
        f = files[r["test"].split("::")[0]]
        start = r["start"] or r["end"]
        f.update(process=r["process"], start=min(f["start"], start - origin), end=max(f["end"], r["end"] - origin),
                 seconds=f["seconds"] + r["end"] - start)
    return sorted(({"file": name, **{k: round(v, 1) if isinstance(v, float) else v for k, v in f.items()}}
                   for name, f in files.items()), key=lambda f: -f["seconds"])


def run_suite(checkout: Path, serial: bool, processes: int = 2, tests: str = "tests") -> dict:
    python = checkout / ".venv" / "bin" / "python"
    timeline = Path(tempfile.mkstemp(prefix="suite-timeline-", suffix=".jsonl")[1])
    cmd = [str(python if python.exists() else sys.executable), "-m", "pytest", "-q", tests, "--durations=15",
           "-p", "no:cacheprovider", "-p", "suite_timeline", "--timeline", str(timeline)]
    if not serial:
        cmd += ["-n", str(processes), "--dist", "loadfile", "--no-loadscope-reorder"]
    elif (checkout / "pyproject.toml").read_text().count("pytest-xdist"):
        cmd += ["-p", "no:xdist"]
    shown = " ".join("FILE" if arg == str(timeline) else arg for arg in cmd[1:])
    print(f"running {shown} in {checkout}", flush=True)
    env = {**os.environ, "CI": "true",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH")]))}
    sampler, processes_cpu = CpuSampler(), ProcessCpu()
    sampler.start()
    processes_cpu.start()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    by_process = processes_cpu.stop()
    samples = sampler.stop()
    cpu_busy, by_minute = busy(samples)
    files = file_spans(timeline)
    timeline.unlink()
    print(proc.stdout[-6000:], proc.stderr[-2000:], sep="\n", flush=True)
    summary = SUMMARY.findall(proc.stdout)
    counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary[-1][0])) \
        if summary else {}
    return {"command": shown, "tests": tests, "commit": short_commit(checkout), "exit_code": proc.returncode,
            "wall_s": round(wall, 1), "pytest_s": float(summary[-1][1]) if summary else None, "counts": counts,
            "slowest": [{"seconds": float(s), "when": w, "test": t} for s, w, t in SLOW.findall(proc.stdout)][:15],
            "cpu_busy": cpu_busy, "cpu_busy_by_minute": by_minute, "files": files,
            "cpu_busy_s": round(busy_cpu_seconds(samples), 1), "cpu_by_process": by_process,
            "machine": this_machine(), "date": time.strftime("%Y-%m-%d")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", required=True, help="the entry's name in the results file")
    ap.add_argument("--checkout", type=Path, default=ROOT, help="the project checkout to test (its .venv)")
    ap.add_argument("--serial", action="store_true", help="one process (the reference), instead of make test's")
    ap.add_argument("--processes", type=int, default=2, help="test processes when not --serial (make test: 2)")
    ap.add_argument("--tests", default="tests", help="what to run: tests (make test) or tests/unit (make test-fast)")
    ap.add_argument("--note", default="", help="kept in the entry: the conditions of the run (what else ran, when)")
    args = ap.parse_args()
    result = run_suite(args.checkout.resolve(), args.serial, args.processes, args.tests)
    data = record(RESULTS, args.label, {**result, **({"note": args.note} if args.note else {})})
    serial, parallel = data.get("serial"), data.get("parallel")  # same commit: their ratio
    if serial and parallel and serial["commit"] == parallel["commit"] and serial["pytest_s"] and parallel["pytest_s"]:
        record(RESULTS, "serial_over_parallel", round(serial["pytest_s"] / parallel["pytest_s"], 2))
    print(json.dumps({k: result[k] for k in ("wall_s", "pytest_s", "counts", "exit_code")}))
    sys.exit(result["exit_code"])


if __name__ == "__main__":
    main()
