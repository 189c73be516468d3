"""``/v1/jobs/{id}/tasks``: a job definition's DAG, and a DAG run node by node (seed 002).

``{id}`` is a template's name or id, or the id of a job in a DAG run (then the DAG
is that run's, as it was when the run started).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from jobsys.api.deps import ClientDep, WatchDep
from jobsys.api.schemas import DagOut, JobOut, RunTasksOut, StepOut
from jobsys.client import Client
from jobsys.errors import NotFound
from jobsys.workflows.runs import by_step, outcome

router = APIRouter(prefix="/jobs", tags=["dags"])

#: ``{job_id}`` of these routes: the job definition, or a job of one of its runs
DefinitionKey = Annotated[
    str, Path(description="A template's name or id, or the id of a job in a DAG run.")
]


def _run_of(client: Client, key: str, run_id: str) -> Any:
    """The group ``run_id`` if it is a DAG run of the template (or job) ``key``."""
    group, _ = client.group(client.resolve_group(run_id))
    try:
        belongs = client.template(key).id == group.template_id
    except NotFound:
        belongs = client.job(client.resolve(key)).group_id == group.id
    if not belongs or group.definition is None:
        raise NotFound(f"DAG run of {key}", run_id)
    return group


@router.get("/{job_id}/tasks", summary="A job definition's DAG")
def tasks(job_id: DefinitionKey, client: ClientDep) -> DagOut:
    """Nodes, edges and a topological order of a template, or of a job's DAG run."""
    return DagOut.model_validate(client.dag(job_id).to_dict())


@router.get("/{job_id}/runs/{run_id}/tasks", summary="A DAG run, node by node")
def run_tasks(
    job_id: DefinitionKey,
    run_id: Annotated[str, Path(description="The run's (JobGroup's) id, or a prefix of it.")],
    client: ClientDep,
    watch: WatchDep,
) -> RunTasksOut:
    """Each node of the run (a JobGroup id) with its outcome and its job(s)."""
    group = _run_of(client, job_id, run_id)
    rows = client.run_tasks(group.id)
    dag = client.dag(rows[0].id if rows else job_id).to_dict()  # the DAG as the run started
    steps, waiting = by_step(rows), watch.waiting(rows)
    nodes = [
        StepOut(
            name=node["name"],
            type=node["type"],
            outcome=outcome(steps.get(node["name"], [])),
            jobs=[JobOut.from_row(j, waiting) for j in steps.get(node["name"], [])],
        )
        for node in sorted(dag["nodes"], key=lambda n: dag["order"].index(n["name"]))
    ]
    return RunTasksOut(
        run_id=group.id,
        status=group.status,
        template_id=group.template_id,
        error=group.error,
        nodes=nodes,
        edges=dag["edges"],
        order=dag["order"],
    )
