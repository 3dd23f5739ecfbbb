"""The mission's two flows (ner, tags) on a `make cluster` with two workers at once,
against the same two runs one after the other on a one-worker cluster, in one run.

Each mode gets a fresh cluster (own PostgreSQL, servers, workspaces and an empty DVC
remote, so nothing is restored from the other mode's run cache) on a copy of the project
with the real raw data. The clock runs from submitting both flow runs until both have
completed; cluster start-up is timed separately. Result: wall times, the ratio
sequential / parallel, and each flow run's own duration from the Prefect server.

    python benchmarks/cluster_parallel.py                  # the scaled mission (below)
    python benchmarks/cluster_parallel.py --full           # params.yaml as it is (~1 h here; _full.json)
    python benchmarks/cluster_parallel.py -S ner.train.epochs=2
    python benchmarks/cluster_parallel.py --hosts          # 2 local workers vs 2 on other hosts (cluster_hosts.json)

``--hosts`` compares, with two workers each, the local cluster against one on a network
address: a server host and two worker hosts as network namespaces (benchmarks/netns.py;
root only), with credentials at both servers and the DVC remote over SSH. The ratio is
the overhead of the network remote and the authentication.

The default scale (SCALED) keeps every stage of both flows but trims data and epochs so
that both modes finish in about 12 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULT = ROOT / "benchmarks" / "results" / "cluster_parallel.json"
HOSTS = RESULT.with_name("cluster_hosts.json")
SCALED = {"ner.data.max_sentences": 3000, "ner.train.epochs": 4, "tags.evaluate.seeds": [42]}
FLOWS = ("ner", "tags")


def project_copy(dest: Path, overrides: dict) -> tuple[Path, dict]:
    """A git + DVC copy of the project with params.yaml plus ``overrides`` and the raw data
    (dvc add + commit, as the real project tracks it)."""
    from benchmarks.workspaces import copy_workspace
    from tasks.common.params import apply_overrides, read_raw

    proj, env = copy_workspace(dest / "proj", apply_overrides(read_raw(ROOT / "params.yaml"), overrides), dest)
    folders = []
    for folder in ("data/raw/conll2003", "data/raw/citeulike-t"):
        if not (ROOT / folder).is_dir():
            sys.exit(f"error: {ROOT / folder} is missing: run `make data` (dvc pull) first")
        shutil.copytree(ROOT / folder, proj / folder)
        folders.append(folder)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for cmd in ([sys.executable, "-m", "dvc", "add", "-q", *folders], git + ["add", "-A"], git + ["commit", "-qm", "data"]):
        subprocess.run(cmd, cwd=proj, env=env, check=True, capture_output=True)
    return proj, env


def flow_run(api: str, flow_run_id: str) -> dict:
    with urllib.request.urlopen(f"{api}/flow_runs/{flow_run_id}", timeout=10) as reply:
        return json.loads(reply.read())


def submit_both(cli: list[str], proj: Path, env: dict, logs: Path) -> tuple[float, dict[str, str]]:
    """Submit both flows at once and wait: (wall seconds, each submit's output)."""
    began = time.monotonic()
    procs = {name: subprocess.Popen(cli + ["submit", name, "--wait"], cwd=proj, env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for name in FLOWS}
    outs = {name: p.communicate()[0] for name, p in procs.items()}
    wall = time.monotonic() - began
    failed = [name for name, p in procs.items() if p.returncode != 0]
    if failed:
        raise SystemExit(f"error: {failed} did not complete:\n" + "\n".join(outs[n][-2000:] for n in failed)
                         + f"\n(logs in {logs})")
    return wall, outs


def run_mode(proj: Path, env: dict, workers: int) -> dict:
    from flows.processes import free_port

    state = Path(tempfile.mkdtemp(prefix=f"gnn-bench-cluster-{workers}w-"))
    state.chmod(0o755)  # reachable by the `postgres` user when we are root
    env = {**env, "GNN_CLUSTER_DIR": str(state), "GNN_CLUSTER_WORKERS": str(workers),
           **{f"GNN_CLUSTER_{k}_PORT": str(free_port()) for k in ("PG", "PREFECT", "MLFLOW")}}
    cli = [sys.executable, "-m", "flows.cluster"]
    try:
        began = time.monotonic()
        subprocess.run(cli + ["start"], cwd=proj, env=env, check=True, capture_output=True, text=True)
        ready = time.monotonic() - began
        config = json.loads((state / "cluster.json").read_text())
        api = f"http://127.0.0.1:{config['prefect_port']}/api"
        print(f"{workers} worker(s): cluster ready in {ready:.1f} s; submitting {' and '.join(FLOWS)}", flush=True)
        wall, outs = submit_both(cli, proj, env, state / "logs")
        runs = {}
        for name, out in outs.items():
            run = flow_run(api, out.split("(", 1)[1].split(")", 1)[0])
            runs[name] = {"total_run_time_s": round(run["total_run_time"], 1), "start": run["start_time"],
                          "end": run["end_time"]}
        each = ", ".join(f"{n} {r['total_run_time_s']} s" for n, r in runs.items())
        print(f"{workers} worker(s): both completed in {wall:.1f} s ({each})", flush=True)
        return {"workers": workers, "cluster_ready_s": round(ready, 1), "wall_s": round(wall, 1), "runs": runs}
    finally:
        subprocess.run(cli + ["stop"], cwd=proj, env=env, capture_output=True, text=True)
        shutil.rmtree(state, ignore_errors=True)


def run_hosts(proj: Path, env: dict) -> dict:
    """Both flows on a server host and two worker hosts (network namespaces,
    benchmarks/netns.py): credentials at both servers, the DVC remote over SSH."""
    from benchmarks.netns import Network, available
    from flows.cluster.remote import credentials_in

    if why := available():
        raise SystemExit(f"error: --hosts needs network namespaces: {why}")
    net = Network(["server", "worker-1", "worker-2"])
    state = Path(tempfile.mkdtemp(prefix="gnn-bench-hosts-"))
    state.chmod(0o755)
    server_env = {**env, "GNN_CLUSTER_DIR": str(state / "server"), "GNN_CLUSTER_WORKERS": "0",
                  "GNN_CLUSTER_BIND": net.address("server")}
    cli = net.cmd("server", [sys.executable, "-m", "flows.cluster"])
    hosts = {}
    try:
        began = time.monotonic()
        subprocess.run(cli + ["start"], cwd=proj, env=server_env, check=True, capture_output=True, text=True)
        ready = time.monotonic() - began
        for worker in ("worker-1", "worker-2"):
            invited = subprocess.run(cli + ["invite", worker], cwd=proj, env=server_env, check=True,
                                     capture_output=True, text=True).stdout
            clone = state / worker / "clone"
            subprocess.run(["git", "clone", "-q", str(proj), str(clone)], check=True, capture_output=True)
            (state / worker / "home").mkdir()
            hosts[worker] = {**env, "HOME": str(state / worker / "home"), "PYTHONPATH": str(clone),
                             "GNN_CLUSTER_DIR": str(state / worker / "state")}
            subprocess.run(net.cmd(worker, [sys.executable, "-m", "flows.cluster", "join",
                                            str(credentials_in(invited))]),
                           cwd=clone, env=hosts[worker], check=True, capture_output=True, text=True)
        joined = time.monotonic() - began - ready
        print(f"other hosts: cluster ready in {ready:.1f} s, 2 workers joined in {joined:.1f} s; submitting",
              flush=True)
        wall, _ = submit_both(cli, proj, server_env, state)
        print(f"other hosts: both completed in {wall:.1f} s", flush=True)
        return {"workers": 2, "cluster_ready_s": round(ready, 1), "workers_joined_s": round(joined, 1),
                "wall_s": round(wall, 1)}
    finally:
        for worker, worker_env in hosts.items():
            subprocess.run(net.cmd(worker, [sys.executable, "-m", "flows.cluster", "leave"]), env=worker_env,
                           capture_output=True)
        subprocess.run(cli + ["stop"], cwd=proj, env=server_env, capture_output=True, text=True)
        net.remove()
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="params.yaml as it is, no scaling")
    parser.add_argument("--hosts", action="store_true", help="2 local workers vs 2 workers on other hosts "
                                                             "(network namespaces, credentials, SSH remote)")
    parser.add_argument("-S", "--set", action="append", default=[], dest="sets", metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, help=f"result file (default {RESULT.name}, "
                                                 f"{RESULT.stem}_full.json with --full, {HOSTS.name} with --hosts)")
    args = parser.parse_args()
    out = args.out or (HOSTS if args.hosts else RESULT.with_name(f"{RESULT.stem}_full.json") if args.full else RESULT)
    from flows.forms import parse_sets
    from tasks.report.markdown import this_machine

    overrides = {} if args.full else dict(SCALED)
    overrides.update(parse_sets(args.sets))
    work = ROOT / ".cache" / "bench-cluster"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    proj, env = project_copy(work, overrides)
    env.pop("MLFLOW_TRACKING_URI", None)  # the workers use the cluster's tracking server
    if args.hosts:
        local = run_mode(proj, env, workers=2)
        other = run_hosts(proj, env)
        result = {"overrides": overrides, "local_2_workers": local, "other_hosts_2_workers": other,
                  "other_hosts_over_local": round(other["wall_s"] / local["wall_s"], 2)}
        summary = f"other hosts / local wall time: {result['other_hosts_over_local']}x"
    else:
        parallel = run_mode(proj, env, workers=2)
        sequential = run_mode(proj, env, workers=1)
        result = {"overrides": overrides, "parallel_2_workers": parallel, "sequential_1_worker": sequential,
                  "sequential_over_parallel": round(sequential["wall_s"] / parallel["wall_s"], 2)}
        summary = f"sequential / parallel wall time: {result['sequential_over_parallel']}x"
    result.update(command="python benchmarks/cluster_parallel.py" + (" --full" if args.full else "")
                  + (" --hosts" if args.hosts else "") + "".join(f" -S {s}" for s in args.sets)
                  + (f" --out {args.out}" if args.out else ""),
                  machine=this_machine(), date=time.strftime("%Y-%m-%d"))
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{summary}; wrote {out}")


if __name__ == "__main__":
    main()
