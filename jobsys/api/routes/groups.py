"""``/v1/groups``: a JobGroup (a batch or a DAG run) with its jobs."""

from __future__ import annotations

from fastapi import APIRouter

from jobsys.api.deps import ClientDep, WatchDep
from jobsys.api.schemas import GroupOut

router = APIRouter(prefix="/groups", tags=["groups"])


@router.get("/{group_id}", summary="One group and its jobs")
def show(group_id: str, client: ClientDep, watch: WatchDep) -> GroupOut:
    """The group's state and its jobs in position order."""
    group, jobs = client.group(group_id)
    return GroupOut.from_rows(group, jobs, watch.waiting(jobs))
