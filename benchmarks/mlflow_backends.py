"""MLflow under concurrent writers: the SQLite store (`make run`, `make ui`) against the
PostgreSQL store (`make cluster`), in one run.

N processes (default 4) each open their own run and log M metric values (default 500),
one `log_metric` call each, all starting at one barrier: the pattern of several flow runs
logging epochs at once. Per backend: wall time from the barrier to the last write,
throughput (successful writes/s), errors by kind (SQLite's "database is locked"
counted), and the values actually stored (read back), which must equal the writes that
reported success.

    python benchmarks/mlflow_backends.py [--procs 4] [--writes 500]

PostgreSQL is started for the run from the project's cluster code (flows/cluster/postgres.py)
in a temporary folder, on a free port, and stopped at the end.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.common.settings import quiet_environment  # noqa: E402
from tasks.report.markdown import this_machine  # noqa: E402

quiet_environment()
RESULT = ROOT / "benchmarks" / "results" / "mlflow_backends.json"


def writer(uri: str, experiment_id: str, writes: int, barrier, results) -> None:
    import mlflow

    client = mlflow.MlflowClient(uri)
    run_id = client.create_run(experiment_id).info.run_id  # also opens the connection
    errors: Counter = Counter()
    barrier.wait()
    start = time.time()
    for step in range(writes):
        try:
            client.log_metric(run_id, "loss", float(step), step=step)
        except Exception as err:  # noqa: BLE001 - counted by kind, that is the measurement
            errors["database is locked" if "database is locked" in str(err) else type(err).__name__] += 1
    end = time.time()
    try:
        client.set_terminated(run_id)
    except Exception as err:  # noqa: BLE001
        errors[f"set_terminated: {type(err).__name__}"] += 1
    results.put({"run_id": run_id, "start": start, "end": end, "errors": dict(errors),
                 "ok": writes - sum(errors.values())})


def measure(uri: str, procs: int, writes: int) -> dict:
    import mlflow

    client = mlflow.MlflowClient(uri)  # creates the schema before the clock starts
    experiment_id = client.create_experiment(f"bench-{time.time_ns()}")
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    workers = [ctx.Process(target=writer, args=(uri, experiment_id, writes, barrier, results)) for _ in range(procs)]
    for w in workers:
        w.start()
    rows = [results.get(timeout=1800) for _ in workers]
    for w in workers:
        w.join()
    wall = max(r["end"] for r in rows) - min(r["start"] for r in rows)
    ok = sum(r["ok"] for r in rows)
    errors = sum((Counter(r["errors"]) for r in rows), Counter())
    stored = sum(len(client.get_metric_history(r["run_id"], "loss")) for r in rows)
    return {"wall_s": round(wall, 2), "writes": procs * writes, "succeeded": ok, "stored": stored,
            "writes_per_s": round(ok / wall, 1), "errors": dict(errors),
            "database_is_locked": errors.get("database is locked", 0)}


def postgres_uri(state: Path):
    """A PostgreSQL for the benchmark, from the cluster's own code; returns (uri, service)."""
    from flows.cluster import postgres
    from flows.cluster.config import ClusterConfig
    from flows.processes import free_port, start_service

    config = ClusterConfig(project=str(ROOT), state=str(state), pg_port=free_port(), prefect_port=0, mlflow_port=0,
                           workers=0, pool="", password="bench", heartbeat_s=30)
    postgres.initialise(config)
    service = postgres.service(config)
    start_service(service, timeout=120)
    conn = postgres.connect(config)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute('CREATE DATABASE "mlflow"')
    conn.close()
    return config.database_url("mlflow", "postgresql+psycopg2"), service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    from flows.processes import stop_service

    state = Path(tempfile.mkdtemp(prefix="gnn-bench-mlflow-"))
    state.chmod(0o755)  # PostgreSQL runs as `postgres` when we are root
    service = None
    try:
        results = {}
        print(f"{args.procs} processes x {args.writes} log_metric calls each", flush=True)
        results["sqlite"] = measure(f"sqlite:///{state / 'mlflow.db'}", args.procs, args.writes)
        print("sqlite    ", results["sqlite"], flush=True)
        uri, service = postgres_uri(state / "pg")
        results["postgresql"] = measure(uri, args.procs, args.writes)
        print("postgresql", results["postgresql"], flush=True)
    finally:
        if service is not None:
            stop_service(service)
        shutil.rmtree(state, ignore_errors=True)
    results["postgresql_vs_sqlite_throughput"] = round(
        results["postgresql"]["writes_per_s"] / results["sqlite"]["writes_per_s"], 2)
    results.update(procs=args.procs, writes_per_proc=args.writes,
                   command=f"python benchmarks/mlflow_backends.py --procs {args.procs} --writes {args.writes}"
                           + ("" if args.out == RESULT else f" --out {args.out}"),
                   machine=this_machine(),
                   date=time.strftime("%Y-%m-%d"))
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"PostgreSQL / SQLite throughput: {results['postgresql_vs_sqlite_throughput']}x; wrote {args.out}")


if __name__ == "__main__":
    main()
