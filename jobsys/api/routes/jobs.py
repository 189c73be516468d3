"""``/v1/jobs``: list, show, submit, cancel and retry jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from jobsys.api.deps import ClientDep, WatchDep
from jobsys.api.schemas import CancelOut, JobOut, SubmitJob
from jobsys.errors import InputError
from jobsys.lifecycle import JobState

router = APIRouter(prefix="/jobs", tags=["jobs"])

STATES = [s.value for s in JobState]


def _states(values: list[str]) -> list[str]:
    wanted = [v.upper() for v in values]
    for value in wanted:
        if value not in STATES:
            raise InputError(
                "query", "status", f"unknown state {value} (one of {', '.join(STATES)})"
            )
    return wanted


@router.get("", summary="Jobs, failed first, then running, then newest")
def list_jobs(
    client: ClientDep,
    watch: WatchDep,
    status_: Annotated[list[str], Query(alias="status", description="Only these states.")] = [],  # noqa: B006
    type_: Annotated[str | None, Query(alias="type", description="Only this job type.")] = None,
    group: Annotated[str | None, Query(description="Only the jobs of this group.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[JobOut]:
    """Jobs matching the filters, as ``jobsys jobs list`` shows them."""
    rows = client.jobs(status=_states(status_), job_type=type_, group_id=group, limit=limit)
    waiting = watch.waiting(rows)
    return [JobOut.from_row(r, waiting) for r in rows]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Submit one job")
def submit(body: SubmitJob, client: ClientDep, watch: WatchDep) -> JobOut:
    """Validate the inputs against the job type's model, then enqueue the job."""
    handle = client.submit(body.job_type, body.inputs, priority=body.priority)
    row = client.job(handle.id)
    return JobOut.from_row(row, watch.waiting([row]))


@router.get("/{job_id}", summary="One job")
def show(job_id: str, client: ClientDep, watch: WatchDep) -> JobOut:
    """A job by id, or by a unique prefix of its id."""
    row = client.job(client.resolve(job_id))
    return JobOut.from_row(row, watch.waiting([row]))


@router.post("/{job_id}/cancel", summary="Cancel a job")
def cancel(job_id: str, client: ClientDep) -> CancelOut:
    """Recorded first, then revoked (queued) or terminated (running); 409 if it has ended."""
    job_id = client.resolve(job_id)
    was = client.cancel(job_id)
    return CancelOut(was=was.value, job=JobOut.from_row(client.job(job_id)))


@router.post("/{job_id}/retry", summary="Retry a failed or cancelled job")
def retry(job_id: str, client: ClientDep) -> JobOut:
    """Re-queue a FAILED or CANCELLED job for a fresh set of attempts; 409 otherwise."""
    job_id = client.resolve(job_id)
    client.retry(job_id)
    return JobOut.from_row(client.job(job_id))
