"""``/v1/groups``: a JobGroup (a batch or a DAG run) with its jobs; cancel or retry it."""

from __future__ import annotations

from fastapi import APIRouter

from jobsys.api.deps import ClientDep, WatchDep
from jobsys.api.schemas import GroupChange, GroupOut

router = APIRouter(prefix="/groups", tags=["groups"])


@router.get("/{group_id}", summary="One group and its jobs")
def show(group_id: str, client: ClientDep, watch: WatchDep) -> GroupOut:
    """The group's state and its jobs in position order (by id, or a unique prefix of one)."""
    group, jobs = client.group(client.resolve_group(group_id))
    return GroupOut.from_rows(group, jobs, watch.waiting(jobs))


@router.post("/{group_id}/cancel", summary="Cancel a group")
def cancel(group_id: str, client: ClientDep) -> GroupChange:
    """Cancel every member not yet finished; the group ends CANCELLED."""
    group_id = client.resolve_group(group_id)
    job_ids = client.cancel_group(group_id)
    group, jobs = client.group(group_id)
    return GroupChange(job_ids=job_ids, group=GroupOut.from_rows(group, jobs))


@router.post("/{group_id}/retry", summary="Retry a DAG run's failed steps")
def retry(group_id: str, client: ClientDep) -> GroupChange:
    """Re-run the failed steps of a finished DAG run and what depends on them (409 if none)."""
    group_id = client.resolve_group(group_id)
    job_ids = client.retry_group(group_id)
    group, jobs = client.group(group_id)
    return GroupChange(job_ids=job_ids, group=GroupOut.from_rows(group, jobs))
