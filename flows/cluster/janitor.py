"""Ends the MLflow runs that a dead flow run left RUNNING.

A worker killed outright cannot end its MLflow runs. Once Prefect has declared the flow
run Crashed (flows/cluster/deploy.py: no heartbeat), its MLflow runs (the flow's and
its stages', tagged ``prefect_flow_run_id``) are ended KILLED, with a tag saying why.
Works across machines: it needs only the two servers.

    python -m flows.cluster.janitor      # started by `make cluster`
"""
from __future__ import annotations

import os
import sys
import time

from flows.cluster.config import load

DEAD_STATES = ("CRASHED", "CANCELLED", "FAILED")


def dead_flow_runs(limit: int = 200) -> dict[str, tuple[str, float]]:
    """{flow run id: (state name, since when, epoch ms)} of recent flow runs that ended
    without completing."""
    import asyncio

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    async def read():
        async with get_client() as client:
            return await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                    any_=[StateType[s] for s in DEAD_STATES]))),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit)

    return {str(run.id): (run.state.name, run.state.timestamp.timestamp() * 1000)
            for run in asyncio.run(read()) if run.state}


def sweep(client) -> list[str]:
    """End every RUNNING MLflow run of a dead flow run: the runs tagged with its id and,
    below them, their RUNNING child runs (stages, subflows). Returns the ids ended."""
    dead = dead_flow_runs()
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not dead or not experiments:
        return []
    running = client.search_runs(experiments, "attributes.status = 'RUNNING'", max_results=1000)
    # Only runs started before the flow run died: a retried flow run keeps its id, and
    # its new MLflow run must not be ended.
    why = {run.info.run_id: dead[tag][0] for run in running
           if (tag := run.data.tags.get("prefect_flow_run_id")) in dead and run.info.start_time <= dead[tag][1]}
    grew = True
    while grew:  # children of ended runs, level by level
        grew = False
        for run in running:
            parent = run.data.tags.get("mlflow.parentRunId")
            if run.info.run_id not in why and parent in why:
                why[run.info.run_id], grew = why[parent], True
    for run_id, state in why.items():
        client.set_tag(run_id, "ended_by", f"cluster janitor: its Prefect flow run is {state}")
        client.set_terminated(run_id, status="KILLED")
    return list(why)


def main(interval: float = 5.0) -> None:
    import mlflow

    config = load()
    os.environ["PREFECT_API_URL"] = config.prefect_api
    client = mlflow.MlflowClient(config.mlflow_uri)
    print(f"janitor: watching {config.prefect_api} for dead flow runs, ending their MLflow runs at "
          f"{config.mlflow_uri}", flush=True)
    while True:
        try:
            for run_id in sweep(client):
                print(f"janitor: MLflow run {run_id} ended KILLED (its flow run died)", flush=True)
        except Exception as err:  # noqa: BLE001 - a server restarting: try again next round
            print(f"janitor: sweep failed ({type(err).__name__}: {err}); retrying", file=sys.stderr, flush=True)
        time.sleep(interval)


if __name__ == "__main__":
    main()
