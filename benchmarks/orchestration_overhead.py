"""What the Prefect flow costs on top of plain `dvc repro`, in one run.

The same stages run two ways, each in its own fresh copy of the project (own git repo,
DVC cache, MLflow store and Prefect home, the real raw data):

  dvc:   python -m dvc repro <last stage>        (every stage still logs its MLflow run)
  flow:  python -m flows.<flow>                   (Prefect flow: one task per stage, each
                                                   `dvc repro --single-item`, MLflow parent
                                                   run, artifacts, workspace lock)

first uncached in a brand-new workspace ("cold": Prefect and MLflow also create their
databases), then fully cached (everything up to date; repeated, median kept) twice: with
the temporary Prefect server a flow starts when none runs (`make run` on a fresh
machine), and with this project's `make ui` servers running in the copy, which the flow
reuses ("server"), then uncached again in the same workspaces after removing every DVC
output, dvc.lock, the DVC cache and run cache and training checkpoints ("warm": what a
run after a code or data change costs; the Prefect and MLflow stores are kept). Goals
(issue 12): flow overhead < 5 % uncached (warm) and a fully cached whole-mission flow
run < 5 s.

    python benchmarks/orchestration_overhead.py                 # tags flow, real data, params.yaml
    python benchmarks/orchestration_overhead.py --flow ner --set ner.train.epochs=2
    python benchmarks/orchestration_overhead.py --flow pipeline --from-workspace   # cached only

``--from-workspace`` seeds both copies with this workspace's dvc.lock, outputs and DVC
cache (it must be up to date: `dvc status` clean) and measures the cached phases only.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.report.markdown import this_machine  # noqa: E402
from flows.processes import free_port  # noqa: E402
from tasks.common.settings import quiet_values  # noqa: E402

FLOWS = {  # flow module -> (last DVC stage, raw data folders it needs)
    "tags": ("evaluate_tags", ["citeulike-t"]),
    "ner": ("train_ner", ["conll2003"]),
    "pipeline": ("evaluate_tags train_ner", ["citeulike-t", "conll2003"]),
}


def make_workdir(base: Path, name: str, overrides: dict) -> tuple[Path, dict]:
    """A fresh git + DVC project copy of this code with the real params.yaml (plus
    overrides), the raw data and its own Prefect/MLflow homes."""
    from benchmarks.workspaces import copy_workspace
    from tasks.common.params import apply_overrides, read_raw

    proj, env = copy_workspace(base / name / "proj", apply_overrides(read_raw(ROOT / "params.yaml"), overrides),
                               base / name)
    for folder in {f for _, folders in FLOWS.values() for f in folders}:
        shutil.copytree(ROOT / "data" / "raw" / folder, proj / "data" / "raw" / folder)
    return proj, env


def clear_dvc_state(proj: Path) -> None:
    """Everything DVC could restore or skip from, so every stage really runs again."""
    for rel in ("dvc.lock", ".dvc/cache", "data/prepared", "artifacts", "metrics", "plots", ".cache"):
        path = proj / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def seed_from_workspace(proj: Path) -> None:
    """This workspace's DVC state (dvc.lock, outputs, cache) in a copy: everything up to date."""
    shutil.copy(ROOT / "dvc.lock", proj / "dvc.lock")
    for rel in ("data/prepared", "artifacts", "metrics", "plots", ".dvc/cache"):
        if (ROOT / rel).is_dir():
            shutil.copytree(ROOT / rel, proj / rel, symlinks=False)


def ui(proj: Path, env: dict, action: str, log: Path) -> None:
    """`python -m flows.ui start|stop` in a copy (its own ports): what `make ui` runs."""
    with open(log, "a") as out:
        proc = subprocess.run([sys.executable, "-m", "flows.ui", action], cwd=proj, env=env, stdout=out,
                              stderr=subprocess.STDOUT, timeout=300)
    if proc.returncode:
        sys.exit(f"flows.ui {action} failed in {proj}; see {log}")


def timed(cmd: list[str], cwd: Path, env: dict, log: Path) -> float:
    t0 = time.perf_counter()
    with open(log, "a") as out:
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed in {cwd} (exit {proc.returncode}); see {log}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flow", choices=sorted(FLOWS), default="tags")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="params override for both ways, e.g. tags.sage.epochs=5 (YAML value)")
    parser.add_argument("--cached-repeats", type=int, default=3)
    parser.add_argument("--no-warm", action="store_true", help="skip the warm uncached phase (long pipelines)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "bench-orchestration")
    parser.add_argument("--from-workspace", action="store_true",
                        help="seed the copies with this workspace's DVC state; cached phases only")
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()  # the runs' cwd is the project copy, not here
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: expected KEY=VALUE")
        overrides[key] = yaml.safe_load(value)
    if args.from_workspace and overrides:
        parser.error("--from-workspace measures this workspace's state: no --set")
    for folder in FLOWS[args.flow][1]:
        if not (ROOT / "data" / "raw" / folder).is_dir():
            sys.exit(f"data/raw/{folder} is missing: run `make data` first")

    shutil.rmtree(args.workdir, ignore_errors=True)
    ways = {name: make_workdir(args.workdir, name, overrides) for name in ("dvc", "flow")}
    for _, env in ways.values():
        env.update({**quiet_values(), "GNN_PREFECT_PORT": str(free_port()), "GNN_MLFLOW_PORT": str(free_port())})
        env.pop("PREFECT_API_URL", None)  # no server: the flow starts its own temporary one, as `make run` does
    commands = {"dvc": [sys.executable, "-m", "dvc", "repro", *FLOWS[args.flow][0].split()],
                "flow": [sys.executable, "-m", f"flows.{args.flow}"]}
    times: dict[str, dict] = {name: {"cached": [], "cached_server": []} for name in ways}
    if args.from_workspace:
        for name, (proj, env) in ways.items():
            seed_from_workspace(proj)
            timed(commands[name], proj, env, args.workdir / f"{name}.log")  # hashes the copied outputs once
        phases = ["cached"] * args.cached_repeats + ["cached_server"] * args.cached_repeats
    else:
        phases = (["uncached_cold"] + ["cached"] * args.cached_repeats + ["cached_server"] * args.cached_repeats
                  + ([] if args.no_warm else ["uncached_warm"]))
    flow_proj, flow_env = ways["flow"]
    for i, phase in enumerate(phases):
        if phase == "cached_server" and phases[i - 1] != phase:
            ui(flow_proj, flow_env, "start", args.workdir / "ui.log")
        if phase == "uncached_warm" and phases[i - 1] == "cached_server":
            ui(flow_proj, flow_env, "stop", args.workdir / "ui.log")
        for name, (proj, env) in ways.items():
            if phase == "uncached_warm":
                clear_dvc_state(proj)
            seconds = timed(commands[name], proj, env, args.workdir / f"{name}.log")
            print(f"{name:4s} {phase:14s} {seconds:7.1f} s", flush=True)
            if phase.startswith("cached"):
                times[name][phase].append(seconds)
            else:
                times[name][phase] = seconds
    if phases[-1] == "cached_server":
        ui(flow_proj, flow_env, "stop", args.workdir / "ui.log")
    for t in times.values():
        t["cached_median"] = statistics.median(t["cached"])
        t["cached_server_median"] = statistics.median(t["cached_server"])
    judged = next((p for p in ("uncached_warm", "uncached_cold") if p in times["flow"]), None)
    overhead = times["flow"][judged] / times["dvc"][judged] - 1 if judged else None
    cold = times["flow"]["uncached_cold"] / times["dvc"]["uncached_cold"] - 1 if "uncached_cold" in times["flow"] else None
    result = {
        "machine": this_machine(),
        "command": " ".join([Path(sys.executable).name] + sys.argv), "flow": args.flow, "overrides": overrides,
        "seconds": times,
        "uncached_overhead": overhead, "uncached_overhead_measured_on": judged, "uncached_overhead_goal": 0.05,
        "uncached_cold_overhead": cold,
        "cached_flow_seconds": times["flow"]["cached_median"],
        "cached_flow_seconds_with_running_server": times["flow"]["cached_server_median"],
        "cached_flow_goal_seconds": 5.0,
        "cached_flow_vs_dvc": times["flow"]["cached_median"] / times["dvc"]["cached_median"],
    }
    out = ROOT / "benchmarks" / "results" / f"orchestration_overhead_{args.flow}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    ok = lambda good: "met" if good else "NOT met"  # noqa: E731
    if cold is not None:
        print(f"\nuncached, brand-new workspace: flow {times['flow']['uncached_cold']:.1f} s vs dvc "
              f"{times['dvc']['uncached_cold']:.1f} s -> overhead {100 * cold:+.1f} %")
    if overhead is not None:
        print(f"uncached ({judged}): flow {times['flow'][judged]:.1f} s vs dvc {times['dvc'][judged]:.1f} s -> "
              f"overhead {100 * overhead:+.1f} % (goal < 5 %: {ok(overhead < 0.05)})")
    flow_t, dvc_t = times["flow"], times["dvc"]
    print(f"cached: flow {flow_t['cached_median']:.1f} s (temporary Prefect server), "
          f"{flow_t['cached_server_median']:.1f} s (make ui server running) vs dvc {dvc_t['cached_median']:.1f} s "
          f"(goal < 5 s: {ok(min(flow_t['cached_median'], flow_t['cached_server_median']) < 5)})\n"
          f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
