"""Housekeeping runs (``maintenance_runs``): claim one before running it, record how it went.

``claim`` is a compare-and-set, like beat's claim of a schedule's instant: of two beats
that find the daily prune due, exactly one UPDATE (or, the very first time, one INSERT)
succeeds, and only that beat runs it. The row is the source of truth, so a restarted
beat does not run it again within the period either.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from jobsys.store.models import MaintenanceRun

runs = cast(Table, MaintenanceRun.__table__)

#: the daily history prune's row
HISTORY_PRUNE = "history_prune"


def claim(engine: Engine, name: str, now: datetime, every: timedelta, owner: str) -> bool:
    """Whether this caller won the run of ``name`` due when its last start is ``every`` ago."""
    with engine.begin() as conn:
        won = conn.execute(
            update(runs)
            .where(
                runs.c.name == name,
                or_(runs.c.started_at.is_(None), runs.c.started_at <= now - every),
            )
            .values(started_at=now, finished_at=None, owner=owner)
        ).rowcount
        if won:
            return True
        if conn.execute(select(runs.c.name).where(runs.c.name == name)).first() is not None:
            return False
    try:
        with engine.begin() as conn:
            conn.execute(insert(runs).values(name=name, started_at=now, owner=owner))
    except IntegrityError:
        return False  # another caller inserted it first: theirs
    return True


def finish(engine: Engine, name: str, owner: str, now: datetime, report: dict[str, Any]) -> None:
    """Record the end of the run ``owner`` claimed, with what it did (or its error)."""
    with engine.begin() as conn:
        conn.execute(
            update(runs)
            .where(runs.c.name == name, runs.c.owner == owner)
            .values(finished_at=now, report=report)
        )


def last(engine: Engine, name: str) -> Any:
    """The row of ``name``'s last run, or None if it never ran."""
    with engine.connect() as conn:
        return conn.execute(select(runs).where(runs.c.name == name)).one_or_none()
