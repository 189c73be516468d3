"""``/v1/schedules``: templates fired on cron (in a timezone) or an interval by ``jobsys beat``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from jobsys.api.deps import ClientDep
from jobsys.api.schemas import CreateSchedule, RunStarted, ScheduleOut, UpdateSchedule

router = APIRouter(tags=["schedules"])


@router.get("/schedules", summary="Schedules by name")
def list_schedules(
    client: ClientDep,
    all_: Annotated[bool, Query(alias="all", description="Include deleted schedules.")] = False,
) -> list[ScheduleOut]:
    """Every schedule with its next trigger (UTC and in its own timezone)."""
    return [ScheduleOut.from_row(r) for r in client.schedules(include_deleted=all_)]


@router.post("/schedules", status_code=status.HTTP_201_CREATED, summary="Create a schedule")
def create_schedule(body: CreateSchedule, client: ClientDep) -> ScheduleOut:
    """As `jobsys schedules create`: a bad cron, timezone or policy is a 422 naming the field."""
    row = client.create_schedule(
        body.name,
        body.template,
        cron=body.cron,
        interval_seconds=body.interval_seconds,
        timezone=body.timezone,
        params=body.params,
        overlap=body.overlap,
        misfire=body.misfire,
        enabled=body.enabled,
    )
    return ScheduleOut.from_row(row)


@router.get("/schedules/{name}", summary="One schedule")
def show_schedule(name: str, client: ClientDep) -> ScheduleOut:
    """A schedule by name or id."""
    return ScheduleOut.from_row(client.schedule(name))


@router.post("/schedules/{name}", summary="Change a schedule")
def update_schedule(name: str, body: UpdateSchedule, client: ClientDep) -> ScheduleOut:
    """Change its timing, timezone, parameters or policies (fields left out stay as they are)."""
    row = client.update_schedule(
        name,
        cron=body.cron,
        interval_seconds=body.interval_seconds,
        timezone=body.timezone,
        params=body.params,
        overlap=body.overlap,
        misfire=body.misfire,
    )
    return ScheduleOut.from_row(row)


@router.post("/schedules/{name}/enable", summary="Enable a schedule")
def enable_schedule(name: str, client: ClientDep) -> ScheduleOut:
    """ENABLED: it fires from its next instant on."""
    return ScheduleOut.from_row(client.enable_schedule(name))


@router.post("/schedules/{name}/disable", summary="Disable a schedule")
def disable_schedule(name: str, client: ClientDep) -> ScheduleOut:
    """DISABLED: it fires no more until enabled."""
    return ScheduleOut.from_row(client.disable_schedule(name))


@router.post("/schedules/{name}/delete", summary="Delete a schedule")
def delete_schedule(name: str, client: ClientDep) -> ScheduleOut:
    """DELETED (kept for the history of the runs it fired)."""
    return ScheduleOut.from_row(client.delete_schedule(name))


@router.post(
    "/schedules/{name}/run", status_code=status.HTTP_201_CREATED, summary="Fire a schedule now"
)
def run_schedule_now(name: str, client: ClientDep) -> RunStarted:
    """A run of the schedule's template with its parameters, now (as `schedules run-now`)."""
    return RunStarted(run_id=client.run_schedule_now(name))
