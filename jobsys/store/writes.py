"""Every insert and update of the store, with SQLAlchemy Core on a caller's connection.

States change only here, and only along ``jobsys.lifecycle``'s tables: the
from-states of each conditional UPDATE are checked against the table when this
module loads, and per-row moves call ``lifecycle.transition``. ``job_runs`` rows
are only ever inserted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from jobsys.errors import InvalidTransition, NotFound
from jobsys.lifecycle import (
    JOB_STATE_FOR_RUN,
    JOB_TERMINAL,
    GroupState,
    JobState,
    RunStatus,
    transition,
)
from jobsys.store.models import Job, JobGroup, JobRun, SinkStat, new_id

jobs = cast(Table, Job.__table__)
runs = cast(Table, JobRun.__table__)
groups = cast(Table, JobGroup.__table__)
sink_stats = cast(Table, SinkStat.__table__)

J = JobState


def _from(to: JobState, *froms: JobState) -> list[str]:
    """The values of ``froms`` after checking each ``from -> to`` against the lifecycle."""
    for state in froms:
        transition(state, to)
    return [s.value for s in froms]


_STARTABLE = _from(J.RUNNING, J.PENDING, J.QUEUED, J.DISPATCHED)
_QUEUEABLE = _from(J.QUEUED, J.PENDING)
_TERMINAL = [s.value for s in JOB_TERMINAL]
#: IN, not NOT IN: the (group_id, status) index then finds an open job without a scan
_OPEN = [s.value for s in JobState if s not in JOB_TERMINAL]
_CANCELLABLE_UNSTARTED = _from(J.CANCELLED, J.PENDING, J.QUEUED, J.DISPATCHED)


# --- submitting ----------------------------------------------------------------------------


def insert_jobs(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new jobs (PENDING) in one statement."""
    if rows:
        conn.execute(insert(jobs), [{**r, "status": J.PENDING.value} for r in rows])


def mark_queued(conn: Connection, job_ids: Sequence[str], now: datetime) -> None:
    """PENDING -> QUEUED once their messages are on the broker (a worker may already run them)."""
    if job_ids:
        conn.execute(
            update(jobs)
            .where(jobs.c.id.in_(job_ids), jobs.c.status.in_(_QUEUEABLE))
            .values(status=J.QUEUED.value, queued_at=now, updated_at=now)
        )


def delete_unpublished(conn: Connection, job_ids: Sequence[str]) -> None:
    """Remove PENDING jobs whose messages never reached the broker: nothing half-written."""
    if job_ids:
        conn.execute(jobs.delete().where(jobs.c.id.in_(job_ids), jobs.c.status == J.PENDING.value))


# --- executing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """An attempt began: the job's data as the runner needs it."""

    job_id: str
    job_type: str
    params: dict[str, Any]
    attempt: int
    max_attempts: int
    template_id: str | None
    group_id: str | None
    started_at: datetime
    #: the DAG step the job belongs to (None outside DAG runs)
    step: str | None = None
    #: the step has no successor, so its end may end the run
    sink: bool | None = None


@dataclass(frozen=True)
class Drop:
    """Do not run: the message is stale (job done, cancelled, unknown, or out of attempts)."""

    reason: str


@dataclass(frozen=True)
class Defer:
    """The job is running elsewhere with a live heartbeat: check again later."""

    reason: str


_RETURNING = (
    jobs.c.id,
    jobs.c.job_type,
    jobs.c.params,
    jobs.c.attempt,
    jobs.c.max_attempts,
    jobs.c.template_id,
    jobs.c.group_id,
    jobs.c.step,
    jobs.c.sink,
)


def _started(row: Any, now: datetime) -> Started:
    return Started(
        row.id,
        row.job_type,
        row.params,
        row.attempt,
        row.max_attempts,
        row.template_id,
        row.group_id,
        now,
        row.step,
        row.sink,
    )


def _run_values(job: Any, attempt: int, **values: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "job_id": job.id,
        "attempt": attempt,
        "job_type": job.job_type,
        "template_id": job.template_id,
        "params_snapshot": job.params,
        **values,
    }


def _bind(name: str, column: Any) -> Any:
    return bindparam(name, type_=column.type)


# Prebuilt once: building statements per call costs more than running them.
_BEGIN = (
    update(jobs)
    .values(
        status=J.RUNNING.value,
        attempt=jobs.c.attempt + 1,
        started_at=_bind("b_now", jobs.c.started_at),
        heartbeat_at=_bind("b_now", jobs.c.heartbeat_at),
        worker_id=bindparam("b_worker"),
        updated_at=_bind("b_now", jobs.c.updated_at),
    )
    .returning(*_RETURNING)
)
_BEGIN_ANY = _BEGIN.where(jobs.c.id == bindparam("b_id"), jobs.c.status.in_(_STARTABLE))
# The fast path skips DAG steps: they start only after ``jobsys.execution.dag.prepare`` (their
# forEach items, whose inputs were resolved when the step expanded, take the fast path).
_BEGIN_FRESH = _BEGIN_ANY.where(jobs.c.step.is_(None) | jobs.c.item_index.is_not(None))
_BEGIN_AFTER_LOSS = _BEGIN.where(
    jobs.c.id == bindparam("b_id"), jobs.c.status == transition(J.RUNNING, J.RUNNING).value
)


def begin_attempt(conn: Connection, job_id: str, worker_id: str, now: datetime) -> Started | None:
    """The common case in one statement: a queued job becomes RUNNING with its next attempt.

    None when the job is not in a startable state (see ``start_attempt`` for why).
    """
    params = {"b_id": job_id, "b_worker": worker_id, "b_now": now}
    row = conn.execute(_BEGIN_FRESH, params).one_or_none()
    return _started(row, now) if row is not None else None


def start_attempt(
    conn: Connection,
    job_id: str,
    worker_id: str,
    now: datetime,
    stale_after: timedelta,
    alive: Callable[[Any], bool] | None = None,
) -> Started | Drop | Defer:
    """Begin the next attempt, or say why this delivery must not run (in a transaction).

    A delivery of a job that already ended (the same message twice, or one redelivered
    after the visibility timeout) is recorded as a SKIPPED run; the job stays as it was.
    A RUNNING job whose heartbeat is stale is lost unless ``alive(job)`` says its worker
    still runs it (its heartbeats could not reach the store).
    """
    params = {"b_id": job_id, "b_worker": worker_id, "b_now": now}
    row = conn.execute(_BEGIN_ANY, params).one_or_none()
    if row is not None:
        return _started(row, now)
    job = conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update()).one_or_none()
    if job is None:
        return Drop(f"job {job_id} is not in the store")
    if job.status in _DELIVERED_TWICE:
        record_duplicate_delivery(conn, job, worker_id, now)
        return Drop(f"job {job_id} is {job.status}: duplicate delivery recorded SKIPPED")
    if job.status != J.RUNNING.value:
        return Drop(f"job {job_id} is {job.status}")
    beat = job.heartbeat_at or job.started_at
    if beat is not None and now - beat < stale_after:
        return Defer(f"job {job_id} attempt {job.attempt} is alive on {job.worker_id}")
    if alive is not None and alive(job):
        return Defer(f"job {job_id} attempt {job.attempt} still runs on {job.worker_id}")
    # The worker that held the previous attempt died: record the lost attempt.
    record_lost_attempt(conn, job, now)
    if job.attempt >= job.max_attempts:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(
                status=transition(J.RUNNING, J.FAILED).value,
                finished_at=now,
                updated_at=now,
                error="worker lost on the last allowed attempt",
                error_type="WorkerLost",
            )
        )
        return Drop(f"job {job_id} ran out of attempts after a lost worker")
    params = {"b_id": job_id, "b_worker": worker_id, "b_now": now}
    return _started(conn.execute(_BEGIN_AFTER_LOSS, params).one(), now)


#: a job in one of these states has had its attempt: another delivery is a duplicate
_DELIVERED_TWICE = [s.value for s in (J.COMPLETED, J.COMPLETED_WITH_WARNINGS, J.FAILED, J.SKIPPED)]


def record_duplicate_delivery(conn: Connection, job: Any, worker_id: str, now: datetime) -> None:
    """Append a SKIPPED run for a delivery of a job that had already ended.

    The run takes the next attempt number (runs are unique per job and attempt), so the
    job's attempt counter moves on with it; nothing else of the job changes.
    """
    attempt = conn.execute(
        update(jobs)
        .where(jobs.c.id == job.id, jobs.c.status == job.status)
        .values(attempt=jobs.c.attempt + 1)
        .returning(jobs.c.attempt)
    ).scalar_one()
    conn.execute(
        insert(runs).values(
            **_run_values(
                job,
                attempt,
                status=RunStatus.SKIPPED.value,
                started_at=now,
                finished_at=now,
                duration_ms=0,
                worker_id=worker_id,
                exit_code=0,
                outputs=job.outputs,
                error=f"duplicate delivery: the job had already ended {job.status} "
                f"(attempt {job.attempt}); nothing was run again",
                error_type="DuplicateDelivery",
                artifacts={"duplicate_delivery_of": job.attempt},
            )
        )
    )


def claim_for_recovery(
    conn: Connection, job_ids: Sequence[str], stale: datetime, now: datetime
) -> list[str]:
    """Of ``job_ids``, those a recovery pass may publish again, claimed in two statements.

    A PENDING job becomes QUEUED; a RUNNING job whose heartbeat is older than ``stale``
    gets ``heartbeat_at = now`` (its redelivery then waits one stale period before it
    declares the attempt lost), so neither is published again by the next pass, or by
    another beat's.
    """
    if not job_ids:
        return []
    ids = list(job_ids)
    queued = conn.execute(
        update(jobs)
        .where(jobs.c.id.in_(ids), jobs.c.status == J.PENDING.value)
        .values(status=transition(J.PENDING, J.QUEUED).value, queued_at=now, updated_at=now)
        .returning(jobs.c.id)
    ).scalars()
    beat = func.coalesce(jobs.c.heartbeat_at, jobs.c.started_at)
    running = conn.execute(
        update(jobs)
        .where(jobs.c.id.in_(ids), jobs.c.status == J.RUNNING.value, beat < stale)
        .values(heartbeat_at=now)
        .returning(jobs.c.id)
    ).scalars()
    return [*queued, *running]


def record_lost_attempt(conn: Connection, job: Any, now: datetime) -> None:
    """Append the FAILED run of an attempt whose worker vanished (if not already recorded)."""
    exists = conn.execute(
        select(runs.c.id).where(runs.c.job_id == job.id, runs.c.attempt == job.attempt)
    ).first()
    if exists is None and job.attempt > 0:
        started = job.started_at
        conn.execute(
            insert(runs).values(
                **_run_values(
                    job,
                    job.attempt,
                    status=RunStatus.FAILED.value,
                    started_at=started,
                    finished_at=now,
                    duration_ms=int((now - started).total_seconds() * 1000) if started else None,
                    worker_id=job.worker_id,
                    error="worker lost mid-attempt (killed, crashed or hard time limit)",
                    error_type="WorkerLost",
                    artifacts={},
                )
            )
        )


#: the columns every recorded run sets (one shape, so the statements can be prebuilt)
RUN_COLUMNS = (
    "id",
    "job_id",
    "attempt",
    "job_type",
    "template_id",
    "params_snapshot",
    "started_at",
    "finished_at",
    "duration_ms",
    "status",
    "exit_code",
    "outputs",
    "artifacts",
    "error",
    "error_type",
    "traceback",
    "worker_id",
    "log_path",
)
#: the job columns an attempt's end sets
JOB_END_COLUMNS = (
    "status",
    "updated_at",
    "finished_at",
    "outputs",
    "output_path",
    "output_size_bytes",
    "error",
    "error_type",
)
_INSERT_RUN = insert(runs).values({c: _bind(f"r_{c}", runs.c[c]) for c in RUN_COLUMNS})
_END_JOB = update(jobs).values({c: _bind(f"j_{c}", jobs.c[c]) for c in JOB_END_COLUMNS})
_OURS = (jobs.c.status == J.RUNNING.value, jobs.c.attempt == bindparam("j_attempt"))
_END_JOB_AFTER_RUN = _END_JOB.where(jobs.c.id == bindparam("j_job_id"), *_OURS).returning(jobs.c.id)
# PostgreSQL: the run insert and the job update as one atomic statement (one round trip).
_NEW_RUN = _INSERT_RUN.returning(runs.c.job_id).cte("new_run")
_RUN_AND_END_JOB = _END_JOB.where(
    jobs.c.id == select(_NEW_RUN.c.job_id).scalar_subquery(), *_OURS
).returning(jobs.c.id)


def record_run(
    conn: Connection,
    started: Started,
    run: dict[str, Any],
    job_values: dict[str, Any],
    retry: bool,
    now: datetime,
) -> bool:
    """Append the attempt's JobRun and move the job on, atomically.

    The job moves to QUEUED (``retry``) or to the state the run's status implies.
    Returns False when the job was no longer this attempt's RUNNING job (cancelled
    meanwhile): the run is still recorded, the job is left as it is. On PostgreSQL
    this is one statement, so an autocommit connection makes it one round trip;
    elsewhere the caller's transaction holds the two statements together.
    """
    to = J.QUEUED if retry else JOB_STATE_FOR_RUN[RunStatus(run["status"])]
    transition(J.RUNNING, to)
    run_row = {
        "id": new_id(),
        "job_id": started.job_id,
        "attempt": started.attempt,
        "job_type": started.job_type,
        "template_id": started.template_id,
        "params_snapshot": started.params,
        "started_at": started.started_at,
        "finished_at": now,
        "duration_ms": int((now - started.started_at).total_seconds() * 1000),
        **{c: None for c in ("exit_code", "outputs", "error", "error_type", "traceback")},
        **{c: None for c in ("worker_id", "log_path")},
        "artifacts": {},
        **run,
    }
    job_row = {
        "status": to.value,
        "updated_at": now,
        "finished_at": None if retry else now,
        **{c: None for c in ("outputs", "output_path", "output_size_bytes", "error")},
        "error_type": None,
        **job_values,
    }
    params = {f"r_{k}": v for k, v in run_row.items()}
    params.update({f"j_{k}": v for k, v in job_row.items()})
    params.update(j_job_id=started.job_id, j_attempt=started.attempt)
    if conn.dialect.name == "postgresql":
        return conn.execute(_RUN_AND_END_JOB, params).first() is not None
    conn.execute(_INSERT_RUN, params)
    return conn.execute(_END_JOB_AFTER_RUN, params).first() is not None


def heartbeat(conn: Connection, job_ids: Iterable[str], now: datetime) -> None:
    """Mark running jobs alive."""
    ids = list(job_ids)
    if ids:
        conn.execute(
            update(jobs)
            .where(jobs.c.id.in_(ids), jobs.c.status == J.RUNNING.value)
            .values(heartbeat_at=now)
        )


def progress(
    conn: Connection,
    job_id: str,
    processed: int,
    total: int | None,
    failed: int | None,
    now: datetime,
) -> None:
    """Record items processed / total / failed of a running job."""
    values: dict[str, Any] = {"items_processed": processed, "updated_at": now, "heartbeat_at": now}
    if total is not None:
        values["items_total"] = total
    if failed is not None:
        values["items_failed"] = failed
    conn.execute(
        update(jobs).where(jobs.c.id == job_id, jobs.c.status == J.RUNNING.value).values(**values)
    )


def sink_figures(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append sink figures (``sink_stats`` rows: job_id, sink_uri, output, rows, bytes, ...)."""
    if rows:
        conn.execute(insert(sink_stats), list(rows))


# --- steering ------------------------------------------------------------------------------


def _locked_job(conn: Connection, job_id: str) -> Any:
    job = conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update()).one_or_none()
    if job is None:
        raise NotFound("job", job_id)
    return job


def cancel_job(conn: Connection, job_id: str, now: datetime) -> Any:
    """Record the cancel first (so a later delivery is dropped); return the job as it was.

    A running attempt gets its CANCELLED run here, since its process is about to be
    terminated and cannot write one.
    """
    job = _locked_job(conn, job_id)
    transition(JobState(job.status), J.CANCELLED, key=job_id)
    if job.status == J.RUNNING.value:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(runs).values(
                        **_run_values(
                            job,
                            job.attempt,
                            status=RunStatus.CANCELLED.value,
                            started_at=job.started_at,
                            finished_at=now,
                            worker_id=job.worker_id,
                            error="cancelled while running",
                            error_type="Cancelled",
                            artifacts={},
                        )
                    )
                )
        except IntegrityError:
            pass  # the attempt finished and recorded itself first
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(
            status=J.CANCELLED.value,
            cancel_requested_at=now,
            finished_at=now,
            updated_at=now,
            error="cancelled by request",
            error_type="Cancelled",
        )
    )
    return job


def requeue_job(
    conn: Connection, job_id: str, task_id: str, extra_attempts: int, now: datetime
) -> Any:
    """A manual retry: a FAILED, CANCELLED (or, in a DAG run, SKIPPED) job gets
    ``extra_attempts`` more attempts."""
    job = _locked_job(conn, job_id)
    transition(JobState(job.status), J.QUEUED, key=job_id)
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(
            status=J.QUEUED.value,
            max_attempts=job.attempt + extra_attempts,
            task_id=task_id,
            queued_at=now,
            finished_at=None,
            cancel_requested_at=None,
            error=None,
            error_type=None,
            updated_at=now,
        )
    )
    return job


# --- groups --------------------------------------------------------------------------------


def insert_group(
    conn: Connection, group_id: str, name: str | None, mode: str, now: datetime
) -> None:
    """Create a group (CREATED); its jobs reference it."""
    conn.execute(
        insert(groups).values(
            id=group_id,
            name=name,
            mode=mode,
            status=GroupState.CREATED.value,
            created_at=now,
            updated_at=now,
        )
    )


_GROUP_STARTABLE = [GroupState.QUEUED.value]
for _state in _GROUP_STARTABLE:
    transition(GroupState(_state), GroupState.RUNNING)


def group_running(conn: Connection, group_id: str, now: datetime) -> None:
    """A member started: the group is RUNNING (one conditional UPDATE, no lock once it is)."""
    conn.execute(
        update(groups)
        .where(groups.c.id == group_id, groups.c.status.in_(_GROUP_STARTABLE))
        .values(status=GroupState.RUNNING.value, started_at=now, updated_at=now)
    )


def set_group_state(conn: Connection, group_id: str, to: GroupState, now: datetime) -> bool:
    """Move a group along its lifecycle if allowed from where it is; False if not."""
    row = conn.execute(
        select(groups.c.status).where(groups.c.id == group_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound("group", group_id)
    current = GroupState(row.status)
    if current == to:
        return False
    try:
        transition(current, to, key=group_id)
    except InvalidTransition:
        return False
    values: dict[str, Any] = {"status": to.value, "updated_at": now}
    if to == GroupState.RUNNING:
        values["started_at"] = now
    if to in (GroupState.COMPLETED, GroupState.PARTIAL, GroupState.CANCELLED):
        values["finished_at"] = now
    conn.execute(update(groups).where(groups.c.id == group_id).values(**values))
    return True


def settle_group(conn: Connection, group_id: str, now: datetime) -> GroupState | None:
    """If every job of the group is terminal, close the group (COMPLETED or PARTIAL).

    The group row is locked first: two members ending at once then count one after the
    other, so the second sees the first's end and no group is left open.
    """
    conn.execute(select(groups.c.id).where(groups.c.id == group_id).with_for_update())
    if has_open_jobs(conn, group_id):  # the common case, cheap even for a run of 10,000 jobs
        return None
    counts: dict[str, int] = dict(
        conn.execute(
            select(jobs.c.status, func.count())
            .where(jobs.c.group_id == group_id)
            .group_by(jobs.c.status)
        ).all()
    )
    if any(status not in _TERMINAL for status in counts):
        return None
    bad = counts.get(J.FAILED.value, 0) + counts.get(J.CANCELLED.value, 0)
    to = GroupState.PARTIAL if bad else GroupState.COMPLETED
    return to if set_group_state(conn, group_id, to, now) else None


def has_open_jobs(conn: Connection, group_id: str) -> bool:
    """Whether any job of the group has not ended (one indexed probe)."""
    return (
        conn.execute(
            select(jobs.c.id).where(jobs.c.group_id == group_id, jobs.c.status.in_(_OPEN)).limit(1)
        ).first()
        is not None
    )


def next_in_sequence(conn: Connection, group_id: str) -> Any:
    """The PENDING job of a sequential group with the lowest position, if none is active."""
    active = conn.execute(
        select(func.count()).where(
            jobs.c.group_id == group_id,
            jobs.c.status.in_([J.QUEUED.value, J.DISPATCHED.value, J.RUNNING.value]),
        )
    ).scalar_one()
    if active:
        return None
    return conn.execute(
        select(jobs)
        .where(jobs.c.group_id == group_id, jobs.c.status == J.PENDING.value)
        .order_by(jobs.c.position, jobs.c.created_at)
        .limit(1)
        .with_for_update()
    ).one_or_none()


def reorder_group(conn: Connection, group_id: str, job_ids: Sequence[str], now: datetime) -> None:
    """Give the listed PENDING jobs of a group positions in the given order."""
    pending = set(
        conn.execute(
            select(jobs.c.id).where(jobs.c.group_id == group_id, jobs.c.status == J.PENDING.value)
        ).scalars()
    )
    for job_id in job_ids:
        if job_id not in pending:
            raise InvalidTransition("job", "dispatched", "reordered", key=job_id)
    base = conn.execute(
        select(func.coalesce(func.min(jobs.c.position), 0)).where(jobs.c.id.in_(list(pending)))
    ).scalar_one()
    for offset, job_id in enumerate(job_ids):
        conn.execute(
            update(jobs).where(jobs.c.id == job_id).values(position=base + offset, updated_at=now)
        )


def cancel_pending_in_group(conn: Connection, group_id: str, now: datetime) -> list[str]:
    """Cancel the group's jobs that no worker has started; return their ids."""
    ids = list(
        conn.execute(
            select(jobs.c.id).where(
                jobs.c.group_id == group_id,
                jobs.c.status.in_(_CANCELLABLE_UNSTARTED),
            )
        ).scalars()
    )
    if ids:
        conn.execute(
            update(jobs)
            .where(jobs.c.id.in_(ids))
            .values(
                status=J.CANCELLED.value,
                cancel_requested_at=now,
                finished_at=now,
                updated_at=now,
                error="group cancelled",
                error_type="Cancelled",
            )
        )
    return ids
