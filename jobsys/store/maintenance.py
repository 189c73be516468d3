"""Housekeeping: claim a run (``maintenance_runs``) before running it, record how it went;
and count what the history holds (``jobsys history stats``).

``claim`` is a compare-and-set, like beat's claim of a schedule's instant: of two beats
that find the daily prune due, exactly one UPDATE (or, the very first time, one INSERT)
succeeds, and only that beat runs it. The row is the source of truth, so a restarted
beat does not run it again within the period either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from jobsys.lifecycle import JOB_TERMINAL
from jobsys.store.models import MaintenanceRun
from jobsys.store.retention import callbacks, groups, jobs, runs, sink_stats

maint = cast(Table, MaintenanceRun.__table__)

#: the daily history prune's row
HISTORY_PRUNE = "history_prune"


def claim(engine: Engine, name: str, now: datetime, every: timedelta, owner: str) -> bool:
    """Whether this caller won the run of ``name`` due when its last start is ``every`` ago."""
    with engine.begin() as conn:
        won = conn.execute(
            update(maint)
            .where(
                maint.c.name == name,
                or_(maint.c.started_at.is_(None), maint.c.started_at <= now - every),
            )
            .values(started_at=now, finished_at=None, owner=owner)
        ).rowcount
        if won:
            return True
        if conn.execute(select(maint.c.name).where(maint.c.name == name)).first() is not None:
            return False
    try:
        with engine.begin() as conn:
            conn.execute(insert(maint).values(name=name, started_at=now, owner=owner))
    except IntegrityError:
        return False  # another caller inserted it first: theirs
    return True


def finish(engine: Engine, name: str, owner: str, now: datetime, report: dict[str, Any]) -> None:
    """Record the end of the run ``owner`` claimed, with what it did (or its error)."""
    with engine.begin() as conn:
        conn.execute(
            update(maint)
            .where(maint.c.name == name, maint.c.owner == owner)
            .values(finished_at=now, report=report)
        )


def last(engine: Engine, name: str) -> Any:
    """The row of ``name``'s last run, or None if it never ran."""
    with engine.connect() as conn:
        return conn.execute(select(maint).where(maint.c.name == name)).one_or_none()


@dataclass(frozen=True)
class HistoryStats:
    """Rows per table and the oldest activity, for ``jobsys history stats``."""

    rows: dict[str, int]
    oldest_job: datetime | None
    oldest_ended_job: datetime | None


def stats(conn: Connection) -> HistoryStats:
    """Count the rows of the history's tables and find the oldest job."""
    tables = {
        "jobs": jobs,
        "job_runs": runs,
        "job_groups": groups,
        "sink_stats": sink_stats,
        "callback_deliveries": callbacks,
    }
    rows = {
        name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
        for name, t in tables.items()
    }
    oldest = conn.execute(select(func.min(jobs.c.updated_at))).scalar()
    ended = conn.execute(
        select(func.min(jobs.c.updated_at)).where(
            jobs.c.status.in_([s.value for s in JOB_TERMINAL])
        )
    ).scalar()
    return HistoryStats(rows, oldest, ended)
