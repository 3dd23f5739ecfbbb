"""The work pool, the deployments on it and the automation that crashes silent runs.

Each deployment's pull steps run in the flow-run process a worker starts: enter the
worker's own workspace ($GNN_WORKSPACE, set per worker), check out the deployed commit
and sync the data (flows/cluster/workspace.py). The Run form is the flow's typed
parameter schema, as with `make ui`'s served deployments.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

from flows.cluster.config import ClusterConfig
from flows.serve import DEPLOYMENTS, load_flows

ZOMBIE_AUTOMATION = "gnn cluster: crash flow runs whose heartbeat stopped"


def pull_steps(commit: str) -> list[dict]:
    # "{{ $VAR }}" is resolved by Prefect in the flow-run process, i.e. from the
    # environment of the worker that picked the run up.
    script = "\n".join(["git fetch -q origin", f"git checkout -q --force --detach {commit}",
                        "python -m flows.cluster.workspace sync"])
    return [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $GNN_WORKSPACE }}"}},
            {"prefect.deployments.steps.run_shell_script": {"script": script, "stream_output": True}}]


GPU_DEPLOYMENTS = {"ner-gpu": "ner"}  # on the GPU pool, under KERAS_BACKEND=jax (a worker joins it with invite --gpu)


def gpu_pool(config: ClusterConfig) -> str:
    return f"{config.pool}-gpu"


async def _ensure_pool(client, name: str, description: str) -> None:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        await client.read_work_pool(name)
    except ObjectNotFound:
        await client.create_work_pool(WorkPoolCreate(
            name=name, type="process", base_job_template=ProcessWorker.get_default_base_job_template(),
            description=description))


async def _apply(config: ClusterConfig, commit: str) -> list[str]:
    from prefect import get_client
    from prefect.utilities.callables import parameter_schema

    flows = load_flows()
    plan = [(name, name, config.pool, {}) for name in DEPLOYMENTS]
    plan += [(name, flow, gpu_pool(config), {"env": {"KERAS_BACKEND": "jax"}})
             for name, flow in GPU_DEPLOYMENTS.items()]
    async with get_client() as client:
        await _ensure_pool(client, config.pool, "gnn-pipelines workers, each in its own workspace (make cluster)")
        await _ensure_pool(client, gpu_pool(config), "gnn-pipelines GPU workers: ner under KERAS_BACKEND=jax")
        names = []
        for name, flow_key, pool, job_variables in plan:
            entrypoint, description = DEPLOYMENTS[flow_key]
            flow = flows[flow_key]
            flow_id = await client.create_flow_from_name(flow.name)
            await client.create_deployment(
                flow_id=flow_id, name=name, work_pool_name=pool, version=commit[:12],
                description=f"{description} (commit {commit[:12]}, pool {pool})", tags=[flow_key, "cluster"],
                entrypoint=entrypoint, pull_steps=pull_steps(commit), job_variables=job_variables, path=None,
                parameter_openapi_schema=parameter_schema(flow).model_dump(exclude_unset=True),
                enforce_parameter_schema=True)
            names.append(f"{flow.name}/{name}")
    await _zombie_automation(config)
    return names


async def _zombie_automation(config: ClusterConfig) -> None:
    """Prefect's documented zombie detection: a flow run that stops sending heartbeats
    (its machine died, its worker was killed) is set to Crashed after 2.5 heartbeats."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    try:
        await (await Automation.aread(name=ZOMBIE_AUTOMATION)).adelete()
    except ValueError:  # none yet
        pass
    ends = {f"prefect.flow-run.{s}" for s in ("Completed", "Failed", "Cancelled", "Crashed")}
    await Automation(
        name=ZOMBIE_AUTOMATION,
        trigger=EventTrigger(after={"prefect.flow-run.heartbeat"}, expect={"prefect.flow-run.heartbeat", *ends},
                             match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
                             for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
                             within=timedelta(seconds=int(2.5 * config.heartbeat_s))),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"no heartbeat for {int(2.5 * config.heartbeat_s)} s: the worker "
                                            "or its machine died during the run")],
    ).acreate()


def apply(config: ClusterConfig, commit: str) -> list[str]:
    return asyncio.run(_apply(config, commit))
