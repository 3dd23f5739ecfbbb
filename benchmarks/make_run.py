"""Time `make run` on a fresh clone, stage by stage: clone this checkout's HEAD into
``--clone``, run `make data` (virtual environment, install, `dvc pull`) and then
`make run` (the whole mission through the pipeline flow), each under /usr/bin/time, and
record both wall times and each DVC stage's span (from the flow's log lines) as the
entry ``--label`` of benchmarks/results/make_run.json. Run it with nothing else on the
machine: the stages use both cores.

    python benchmarks/make_run.py --label after --clone /work/run
    python benchmarks/make_run.py --label before --logs DATA_LOG RUN_LOG --commit C   # a run timed by hand

The clone must sit beside this checkout's own folder depth (the DVC remote in
.dvc/config is a relative path).
"""
from __future__ import annotations

import argparse
import datetime
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.records import record  # noqa: E402
from tasks.report.markdown import host_cpu, short_commit, this_machine  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "make_run.json"
STAGE_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d(?:\.\d+)?) \| INFO\s+\| Task run 'dvc repro (\w+)' - "
                        r"(Running stage|Finished in state)", re.M)
ELAPSED = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)")


def wall_seconds(log: str) -> float:
    """The wall time /usr/bin/time -v printed at the end of ``log``."""
    found = ELAPSED.findall(log)
    if not found:
        raise ValueError("no '/usr/bin/time -v' wall time in the log")
    h, m, s = found[-1]
    return round(int(h or 0) * 3600 + int(m) * 60 + float(s), 1)


def stage_spans(log: str) -> list[dict]:
    """Each stage the flow ran, in the order they ended, with its seconds (from 'Running
    stage' to 'Finished in state') and its start (seconds after the first stage's);
    across midnight too. The pipeline runs its two flows' stages side by side, so spans
    may overlap."""
    started, spans, day, last, first = {}, [], 0.0, None, None
    for h, m, s, stage, what in STAGE_LINE.findall(log):
        t = int(h) * 3600 + int(m) * 60 + float(s) + day
        if last is not None and t < last - 43200:  # the clock went past midnight
            day += 86400
            t += 86400
        last = t
        first = t if first is None else first
        if what == "Running stage":
            started[stage] = t
        elif stage in started:
            begin = started.pop(stage)
            spans.append({"stage": stage, "seconds": round(t - begin, 1), "start_s": round(begin - first, 1)})
    return spans


def busy_seconds(spans: list[dict]) -> float:
    """Seconds during which at least one stage ran (the union of the spans)."""
    busy, end = 0.0, float("-inf")
    for start, stop in sorted((s["start_s"], s["start_s"] + s["seconds"]) for s in spans):
        busy += max(0.0, stop - max(start, end))
        end = max(end, stop)
    return busy


def entry(data_log: str, run_log: str, commit: str, command: str) -> dict:
    stages = stage_spans(run_log)
    data_s, run_s = wall_seconds(data_log), wall_seconds(run_log)
    busy = busy_seconds(stages)
    return {"command": command, "commit": commit, "machine": this_machine(), "cpu": host_cpu(),
            "date": datetime.date.today().isoformat(), "make_data_s": data_s, "make_run_s": run_s,
            "total_s": round(data_s + run_s, 1), "stages": stages,
            "outside_stages_s": round(run_s - busy, 1),
            "stages_overlap_s": round(sum(s["seconds"] for s in stages) - busy, 1)}


def timed(cmd: list[str], cwd: Path, log: Path) -> str:
    """Run ``cmd`` under /usr/bin/time -v in ``cwd``, its output to ``log``; the output."""
    with log.open("w", encoding="utf-8") as out:
        rc = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, stdout=out, stderr=subprocess.STDOUT).returncode
    text = log.read_text(encoding="utf-8", errors="replace")
    if rc != 0:
        sys.exit(f"error: {' '.join(cmd)} failed in {cwd} (exit {rc}); its log: {log}\n{text[-2000:]}")
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", required=True, help="the entry's name in the results file")
    ap.add_argument("--clone", type=Path, help="where to clone HEAD (must not exist)")
    ap.add_argument("--logs", nargs=2, type=Path, metavar=("DATA_LOG", "RUN_LOG"),
                    help="logs of a `make data` and a `make run` run by hand under /usr/bin/time -v")
    ap.add_argument("--commit", help="with --logs: the commit that ran")
    ap.add_argument("--note", default="", help="kept in the entry")
    args = ap.parse_args()
    if bool(args.clone) == bool(args.logs) or (args.logs and not args.commit):
        ap.error("give --clone DIR, or --logs DATA_LOG RUN_LOG with --commit")
    if args.clone:
        if args.clone.exists():
            ap.error(f"--clone {args.clone} exists; give a new folder")
        subprocess.run(["git", "clone", "-q", str(ROOT), str(args.clone)], check=True)
        commit = short_commit(args.clone)
        data_log = timed(["make", "data"], args.clone, args.clone.parent / f"{args.clone.name}-make-data.log")
        run_log = timed(["make", "run"], args.clone, args.clone.parent / f"{args.clone.name}-make-run.log")
        command = f"python benchmarks/make_run.py --label {args.label} --clone DIR"
    else:
        commit = args.commit
        data_log, run_log = (p.read_text(encoding="utf-8", errors="replace") for p in args.logs)
        command = "make data; make run (each under /usr/bin/time -v, in a fresh clone)"
    run = entry(data_log, run_log, commit, command) | {"note": args.note}
    record(OUT, args.label, run)
    print(f"{args.label}: make data {run['make_data_s']:.0f} s, make run {run['make_run_s']:.0f} s; "
          + ", ".join(f"{s['stage']} {s['seconds']:.0f} s" for s in run["stages"]))
    print(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
