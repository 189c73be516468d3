"""Writes and reads of DAG runs: the run's group, its step jobs, skips decided before a step
starts, forEach expansions, retries from failure and callback deliveries.

Like ``jobsys.store.writes``, every state change goes along ``jobsys.lifecycle``'s
tables, and ``job_runs`` rows are only inserted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select, update

from jobsys.errors import NotFound
from jobsys.lifecycle import GroupState, JobState, RunStatus, transition
from jobsys.store.models import CallbackDelivery, Job, JobGroup, JobRun, new_id
from jobsys.store.writes import insert_jobs, requeue_job

jobs = cast(Table, Job.__table__)
runs = cast(Table, JobRun.__table__)
groups = cast(Table, JobGroup.__table__)
deliveries = cast(Table, CallbackDelivery.__table__)

J = JobState
#: the job type of a forEach step's own row: it records the expansion into items
FOREACH = "jobsys.foreach"


def insert_run(
    conn: Connection,
    group_id: str,
    *,
    name: str,
    template_id: str | None,
    params: dict[str, Any],
    definition: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    now: datetime,
    schedule_id: str | None = None,
    scheduled_for: datetime | None = None,
) -> None:
    """A DAG run: its group (mode ``dag``) and one PENDING job per step, in one transaction."""
    conn.execute(
        insert(groups).values(
            id=group_id,
            name=name,
            mode="dag",
            status=GroupState.CREATED.value,
            template_id=template_id,
            schedule_id=schedule_id,
            scheduled_for=scheduled_for,
            params=params,
            definition=definition,
            created_at=now,
            updated_at=now,
        )
    )
    insert_jobs(conn, rows)


def insert_runs(
    conn: Connection, runs_: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]
) -> None:
    """Many DAG runs at once (a tick of beat): their groups (``dag``, CREATED) and every
    step's PENDING job, in two statements. ``runs_`` hold each group's columns."""
    if runs_:
        conn.execute(
            insert(groups),
            [{**r, "mode": "dag", "status": GroupState.CREATED.value} for r in runs_],
        )
    insert_jobs(conn, rows)


def queue_runs(conn: Connection, group_ids: Sequence[str], now: datetime) -> None:
    """Runs just inserted (CREATED) and published are QUEUED, in one statement."""
    transition(GroupState.CREATED, GroupState.QUEUED)
    if group_ids:
        conn.execute(
            update(groups)
            .where(groups.c.id.in_(list(group_ids)), groups.c.status == GroupState.CREATED.value)
            .values(status=GroupState.QUEUED.value, updated_at=now)
        )


def jobs_of_runs(conn: Connection, group_ids: Sequence[str]) -> dict[str, list[Any]]:
    """The jobs of many runs, by run, each in ``step_jobs`` order."""
    out: dict[str, list[Any]] = {g: [] for g in group_ids}
    if not group_ids:
        return out
    for row in conn.execute(
        select(jobs)
        .where(jobs.c.group_id.in_(list(group_ids)))
        .order_by(jobs.c.group_id, jobs.c.position, jobs.c.item_index.asc().nulls_first())
    ).all():
        out[row.group_id].append(row)
    return out


def delete_run(conn: Connection, group_id: str) -> None:
    """Remove a run whose canvas never reached the broker: nothing half-written."""
    conn.execute(jobs.delete().where(jobs.c.group_id == group_id))
    conn.execute(groups.delete().where(groups.c.id == group_id))


def step_jobs(conn: Connection, group_id: str) -> list[Any]:
    """The run's jobs (steps, forEach rows and items), by step then item."""
    return list(
        conn.execute(
            select(jobs)
            .where(jobs.c.group_id == group_id)
            .order_by(jobs.c.position, jobs.c.item_index.asc().nulls_first())
        ).all()
    )


def lock_job(conn: Connection, job_id: str) -> Any:
    """One job row, locked for the rest of the transaction; None if unknown."""
    return conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update()).one_or_none()


def set_params(conn: Connection, job_id: str, params: dict[str, Any], now: datetime) -> None:
    """A step's inputs, resolved from its predecessors' outputs just before it starts."""
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(params=params, updated_at=now))


def end_unstarted(
    conn: Connection,
    job: Any,
    status: RunStatus,
    reason: str,
    now: datetime,
    *,
    error_type: str,
    outputs: dict[str, Any] | None = None,
) -> None:
    """End a step that never ran its function (skipped, expanded, unresolvable inputs).

    The decision is an attempt of its own: one JobRun records it, with the reason.
    """
    to = {
        RunStatus.SKIPPED: J.SKIPPED,
        RunStatus.FAILED: J.FAILED,
        RunStatus.COMPLETED: J.COMPLETED,
    }[status]
    current = JobState(job.status)
    if current != J.RUNNING:
        transition(current, J.RUNNING)
    transition(J.RUNNING, to)
    attempt = job.attempt + 1
    failed = status == RunStatus.FAILED
    conn.execute(
        insert(runs).values(
            id=new_id(),
            job_id=job.id,
            attempt=attempt,
            job_type=job.job_type,
            template_id=job.template_id,
            params_snapshot=job.params,
            status=status.value,
            started_at=now,
            finished_at=now,
            duration_ms=0,
            exit_code=1 if failed else 0,
            error=None if status == RunStatus.COMPLETED else reason,
            error_type=error_type if status != RunStatus.COMPLETED else None,
            outputs=outputs,
            artifacts={},
        )
    )
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job.id)
        .values(
            status=to.value,
            attempt=attempt,
            started_at=job.started_at or now,
            finished_at=now,
            updated_at=now,
            outputs=outputs,
            error=None if status == RunStatus.COMPLETED else reason,
            error_type=error_type if status != RunStatus.COMPLETED else None,
        )
    )


def insert_items(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """The jobs of a forEach step's items (one statement)."""
    insert_jobs(conn, rows)


def reset_for_retry(
    conn: Connection,
    job_ids: Sequence[str],
    task_ids: dict[str, str],
    extra_attempts: dict[str, int],
    now: datetime,
) -> None:
    """Re-open failed, cancelled and skipped steps of a run, as a manual retry re-opens a job:
    QUEUED, a new task id, and ``extra_attempts`` more attempts than used so far."""
    reopenable = {J.FAILED.value, J.CANCELLED.value, J.SKIPPED.value}
    for job_id in job_ids:
        status = conn.execute(select(jobs.c.status).where(jobs.c.id == job_id)).scalar_one()
        if status in reopenable:
            requeue_job(conn, job_id, task_ids[job_id], extra_attempts[job_id], now)


def delete_items(conn: Connection, group_id: str, step: str) -> None:
    """Forget the items of a forEach step that is expanded again (its producer re-ran).

    Only unfinished or failed items can be here: a retry re-expands a step only when its
    own row did not complete, in which case it never had items.
    """
    conn.execute(
        jobs.delete().where(
            jobs.c.group_id == group_id, jobs.c.step == step, jobs.c.item_index.is_not(None)
        )
    )


def set_group_error(conn: Connection, group_id: str, error: str | None, now: datetime) -> None:
    """Record (or clear) why a run ended as it did beyond its jobs' own errors."""
    conn.execute(update(groups).where(groups.c.id == group_id).values(error=error, updated_at=now))


def reopen_group(conn: Connection, group_id: str, now: datetime) -> None:
    """A run retried from its failure is QUEUED again (from PARTIAL or CANCELLED)."""
    row = conn.execute(
        select(groups.c.status).where(groups.c.id == group_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound("run", group_id)
    transition(GroupState(row.status), GroupState.QUEUED, key=group_id)
    conn.execute(
        update(groups)
        .where(groups.c.id == group_id)
        .values(status=GroupState.QUEUED.value, finished_at=None, error=None, updated_at=now)
    )


# --- callbacks ---------------------------------------------------------------------------


def insert_deliveries(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Callbacks due for a finished run (PENDING)."""
    if rows:
        conn.execute(insert(deliveries), list(rows))


def record_delivery(
    conn: Connection,
    delivery_id: str,
    *,
    status: str,
    attempts: int,
    now: datetime,
    response_status: int | None = None,
    error: str | None = None,
    job_id: str | None = None,
) -> None:
    """The outcome of a callback's latest attempt."""
    values: dict[str, Any] = {
        "status": status,
        "attempts": attempts,
        "response_status": response_status,
        "error": error,
        "updated_at": now,
    }
    if job_id is not None:
        values["job_id"] = job_id
    conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))


def deliveries_of(conn: Connection, group_id: str, status: Sequence[str] = ()) -> list[Any]:
    """A run's callback deliveries, oldest first."""
    query = select(deliveries).where(deliveries.c.group_id == group_id)
    if status:
        query = query.where(deliveries.c.status.in_(list(status)))
    return list(conn.execute(query.order_by(deliveries.c.created_at)).all())
