"""Named reads for the client and the views. Nothing here writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, case, func, select

from jobsys.errors import NotFound
from jobsys.lifecycle import GROUP_TERMINAL, JobState
from jobsys.store.models import Job, JobGroup, JobRun, SinkStat

jobs = cast(Table, Job.__table__)
runs = cast(Table, JobRun.__table__)
groups = cast(Table, JobGroup.__table__)
sink_stats = cast(Table, SinkStat.__table__)


def get_job(conn: Connection, job_id: str) -> Any:
    """One job row, or ``NotFound``."""
    row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one_or_none()
    if row is None:
        raise NotFound("job", job_id)
    return row


def resolve_job_id(conn: Connection, prefix: str) -> str:
    """The full id of the one job whose id starts with ``prefix`` (as git resolves hashes)."""
    return _resolve(conn, jobs, "job", prefix)


def resolve_group_id(conn: Connection, prefix: str) -> str:
    """The full id of the one group (run or batch) whose id starts with ``prefix``."""
    return _resolve(conn, groups, "run", prefix)


def _resolve(conn: Connection, table: Table, entity: str, prefix: str) -> str:
    if len(prefix) >= 36:
        return prefix
    ids = list(
        conn.execute(select(table.c.id).where(table.c.id.startswith(prefix)).limit(2)).scalars()
    )
    if len(ids) != 1:
        raise NotFound(entity, prefix + (" (ambiguous prefix)" if ids else ""))
    return str(ids[0])


def job_status(conn: Connection, job_id: str) -> JobState:
    """A job's current state."""
    status = conn.execute(select(jobs.c.status).where(jobs.c.id == job_id)).scalar_one_or_none()
    if status is None:
        raise NotFound("job", job_id)
    return JobState(status)


def statuses(conn: Connection, job_ids: Sequence[str]) -> dict[str, JobState]:
    """States of many jobs in one query."""
    rows = conn.execute(select(jobs.c.id, jobs.c.status).where(jobs.c.id.in_(job_ids)))
    return {r.id: JobState(r.status) for r in rows}


_FAILED_FIRST = case(
    (jobs.c.status == JobState.FAILED.value, 0),
    (jobs.c.status == JobState.RUNNING.value, 1),
    else_=2,
)


def list_jobs(
    conn: Connection,
    *,
    status: Sequence[str] = (),
    job_type: str | None = None,
    group_id: str | None = None,
    limit: int = 50,
) -> list[Any]:
    """Jobs, failed first, then running, then newest."""
    query = select(jobs)
    if status:
        query = query.where(jobs.c.status.in_(list(status)))
    if job_type:
        query = query.where(jobs.c.job_type == job_type)
    if group_id:
        query = query.where(jobs.c.group_id == group_id)
    query = query.order_by(_FAILED_FIRST, jobs.c.created_at.desc()).limit(limit)
    return list(conn.execute(query).all())


def runs_of(conn: Connection, job_id: str) -> list[Any]:
    """A job's attempts, oldest first."""
    get_job(conn, job_id)
    return list(
        conn.execute(select(runs).where(runs.c.job_id == job_id).order_by(runs.c.attempt)).all()
    )


def queued_by_capability(conn: Connection) -> dict[str, dict[str, int]]:
    """Per capability: how many jobs are queued and running."""
    rows = conn.execute(
        select(jobs.c.capability, jobs.c.status, func.count())
        .where(
            jobs.c.status.in_(
                [JobState.PENDING.value, JobState.QUEUED.value, JobState.RUNNING.value]
            )
        )
        .group_by(jobs.c.capability, jobs.c.status)
    )
    out: dict[str, dict[str, int]] = {}
    for capability, status, count in rows:
        out.setdefault(capability, {})[status] = count
    return out


def unstarted_since(conn: Connection, cutoff: datetime, include_queued: bool) -> list[Any]:
    """Jobs created before ``cutoff`` that no worker has started and that should be on a queue.

    PENDING members of sequential groups are waiting for their turn, not for a message,
    and DAG steps wait inside their run's canvas, so they are left out.
    """
    sequential = select(groups.c.id).where(groups.c.mode == "sequential")
    pending = (jobs.c.status == JobState.PENDING.value) & (
        jobs.c.group_id.is_(None) | jobs.c.group_id.not_in(sequential)
    )
    # DAG steps travel inside their run's canvas: a lone message would lose what follows.
    pending &= jobs.c.step.is_(None)
    queued = (jobs.c.status == JobState.QUEUED.value) & jobs.c.step.is_(None)
    wanted = pending | queued if include_queued else pending
    return list(
        conn.execute(
            select(jobs).where(wanted, jobs.c.created_at < cutoff).order_by(jobs.c.created_at)
        ).all()
    )


def _stale_running(stale: datetime) -> Any:
    beat = func.coalesce(jobs.c.heartbeat_at, jobs.c.started_at)
    return (jobs.c.status == JobState.RUNNING.value) & (beat < stale)


_WAITING = [JobState.QUEUED.value, JobState.DISPATCHED.value]


def unfinished_without_message(
    conn: Connection, cutoff: datetime, stale: datetime, include_queued: bool
) -> list[Any]:
    """Jobs outside DAG runs that may have lost their message (for recovery).

    PENDING ones created before ``cutoff`` (not waiting for their turn in a sequential
    group), RUNNING ones whose heartbeat is older than ``stale``, and with
    ``include_queued`` (the broker lost its messages) QUEUED/DISPATCHED ones too.
    """
    sequential = select(groups.c.id).where(groups.c.mode == "sequential")
    pending = (jobs.c.status == JobState.PENDING.value) & (jobs.c.created_at < cutoff)
    pending &= jobs.c.group_id.is_(None) | jobs.c.group_id.not_in(sequential)
    wanted = pending | _stale_running(stale)
    if include_queued:
        wanted |= jobs.c.status.in_(_WAITING) & (jobs.c.created_at < cutoff)
    query = select(jobs).where(jobs.c.step.is_(None), wanted).order_by(jobs.c.created_at)
    return list(conn.execute(query).all())


def open_dag_steps(conn: Connection, stale: datetime) -> list[Any]:
    """The steps and forEach items of open DAG runs that have not started (or whose
    heartbeat is older than ``stale``): what a broker that lost its messages leaves stuck."""
    open_runs = select(groups.c.id).where(
        groups.c.mode == "dag", groups.c.status.not_in([s.value for s in GROUP_TERMINAL])
    )
    unstarted = jobs.c.status.in_([JobState.PENDING.value, *_WAITING])
    query = (
        select(jobs)
        .where(jobs.c.group_id.in_(open_runs), unstarted | _stale_running(stale))
        .order_by(jobs.c.group_id, jobs.c.position, jobs.c.item_index)
    )
    return list(conn.execute(query).all())


def get_group(conn: Connection, group_id: str) -> Any:
    """One group row, or ``NotFound``."""
    row = conn.execute(select(groups).where(groups.c.id == group_id)).one_or_none()
    if row is None:
        raise NotFound("group", group_id)
    return row


def group_jobs(conn: Connection, group_id: str) -> list[Any]:
    """A group's jobs in position order."""
    return list(
        conn.execute(
            select(jobs)
            .where(jobs.c.group_id == group_id)
            .order_by(jobs.c.position, jobs.c.created_at)
        ).all()
    )


def last_published(conn: Connection, job_type: str, output_path: str, other_than: str) -> Any:
    """The job (other than ``other_than``) that last finished with outputs at ``output_path``,
    with its last run's artifacts; None when there is none."""
    done = [
        JobState.COMPLETED.value,
        JobState.COMPLETED_WITH_WARNINGS.value,
        JobState.SKIPPED.value,
    ]
    last_run = (
        select(runs.c.artifacts)
        .where(runs.c.job_id == jobs.c.id)
        .order_by(runs.c.attempt.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            jobs.c.id,
            jobs.c.params,
            jobs.c.outputs,
            jobs.c.output_path,
            jobs.c.output_size_bytes,
            last_run.label("artifacts"),
        )
        .where(
            jobs.c.job_type == job_type,
            jobs.c.output_path == output_path,
            jobs.c.status.in_(done),
            jobs.c.id != other_than,
        )
        .order_by(jobs.c.finished_at.desc())
        .limit(1)
    )
    return conn.execute(query).one_or_none()


def sink_figures(
    conn: Connection, job_ids: Sequence[str] | None = None, sink_uri: str | None = None
) -> list[Any]:
    """Totals per (sink_uri, output): rows, bytes, writes, errors, mean and worst latency (ms).

    Of the given jobs, or one sink, or everything recorded (seed 001 §8.2's SinkStats).
    """
    t = sink_stats
    writes_total = func.sum(t.c.writes)
    query = select(
        t.c.sink_uri,
        t.c.output,
        func.sum(t.c.rows).label("rows"),
        func.sum(t.c.bytes).label("bytes"),
        writes_total.label("writes"),
        func.sum(t.c.error_count).label("errors"),
        (func.sum(t.c.write_latency_ms * t.c.writes) / func.nullif(writes_total, 0)).label(
            "mean_latency_ms"
        ),
        func.max(t.c.max_latency_ms).label("max_latency_ms"),
        func.max(t.c.recorded_at).label("last_recorded_at"),
    ).group_by(t.c.sink_uri, t.c.output)
    if job_ids is not None:
        query = query.where(t.c.job_id.in_(list(job_ids)))
    if sink_uri is not None:
        query = query.where(t.c.sink_uri == sink_uri)
    return list(conn.execute(query.order_by(t.c.sink_uri, t.c.output)).all())


# --- the jobs view (seed 001 §9.3) and /metrics ----------------------------------------------

#: the states a view counts as pending (not yet started)
WAITING = (JobState.PENDING.value, JobState.QUEUED.value, JobState.DISPATCHED.value)


def jobs_changed_since(conn: Connection, since: datetime | None, limit: int = 1000) -> list[Any]:
    """Jobs whose row changed at or after ``since`` (all when None), oldest change first.

    Uses the ``updated_at`` index: a poll with nothing new reads no job row. At or after,
    not after: a row written in the same microsecond as the last one seen is not lost (the
    caller already has the others and replaces them). Oldest first, so a caller that got
    ``limit`` rows asks again from the last one's ``updated_at`` and misses nothing.
    """
    query = select(jobs)
    if since is not None:
        query = query.where(jobs.c.updated_at >= since)
    return list(conn.execute(query.order_by(jobs.c.updated_at).limit(limit)).all())


def latest_change(conn: Connection) -> datetime | None:
    """The newest ``updated_at`` of any job (the index's last entry)."""
    value: datetime | None = conn.execute(select(func.max(jobs.c.updated_at))).scalar()
    return value


def jobs_by_status(conn: Connection) -> dict[str, int]:
    """How many jobs are in each status."""
    rows = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status))
    return {status: count for status, count in rows}


_PROCESSED_OF_KNOWN_TOTAL = case(
    (jobs.c.items_total.is_(None), 0),
    (jobs.c.items_processed > jobs.c.items_total, jobs.c.items_total),
    else_=jobs.c.items_processed,
)


def job_totals(conn: Connection) -> Any:
    """Items processed and expected, and bytes of output, over every job (the status line)."""
    return conn.execute(
        select(
            # Only jobs that say how many items they have count, each at most up to that total:
            # "846/306 items" would come of a job counting rows against another's files.
            func.coalesce(func.sum(_PROCESSED_OF_KNOWN_TOTAL), 0).label("items_processed"),
            func.coalesce(func.sum(jobs.c.items_total), 0).label("items_total"),
            func.coalesce(func.sum(jobs.c.output_size_bytes), 0).label("output_bytes"),
        )
    ).one()


def jobs_by_type(conn: Connection) -> list[Any]:
    """Counts per (job type, capability, status), for /metrics."""
    return list(
        conn.execute(
            select(jobs.c.job_type, jobs.c.capability, jobs.c.status, func.count().label("n"))
            .group_by(jobs.c.job_type, jobs.c.capability, jobs.c.status)
            .order_by(jobs.c.job_type, jobs.c.capability, jobs.c.status)
        ).all()
    )


def run_duration_buckets(conn: Connection, bounds_ms: Sequence[int]) -> list[Any]:
    """Per (job type, status) of the attempts with a duration: how many took at most each of
    ``bounds_ms`` (cumulative, as Prometheus histograms count), how many in all, and the sum
    of their durations in ms. Counted by the database in one pass, not read row by row."""
    le = [
        func.sum(case((runs.c.duration_ms <= bound, 1), else_=0)).label(f"le_{i}")
        for i, bound in enumerate(bounds_ms)
    ]
    query = (
        select(
            runs.c.job_type,
            runs.c.status,
            *le,
            func.count().label("count"),
            func.sum(runs.c.duration_ms).label("sum_ms"),
        )
        .where(runs.c.duration_ms.is_not(None))
        .group_by(runs.c.job_type, runs.c.status)
        .order_by(runs.c.job_type, runs.c.status)
    )
    return list(conn.execute(query).all())


def sink_samples(conn: Connection, since: datetime) -> list[Any]:
    """The sink flushes recorded after ``since`` (rows and mean write latency), oldest first."""
    t = sink_stats
    return list(
        conn.execute(
            select(t.c.recorded_at, t.c.rows, t.c.bytes, t.c.writes, t.c.write_latency_ms)
            .where(t.c.recorded_at > since)
            .order_by(t.c.recorded_at)
        ).all()
    )
