"""Reads and writes of ``schedules``, with SQLAlchemy Core on a caller's connection.

A schedule's state changes only here, along ``jobsys.lifecycle``'s schedule table.
Every write bumps the one ``schedule_changes`` row, which beat polls to reload.

Firing is claimed with a compare-and-set on ``next_trigger_at`` (``claim``): of two
beats (or a beat and its restarted self) that saw the same due instant, exactly one
UPDATE matches the row, and only that beat fires. The row is the source of truth, so
this holds whichever process looks, for as long as the database is up, with no lock
to expire or leak; a Redis lock would be a second source of truth that can outlive
its holder (a TTL too short double-fires, too long stalls) and does not survive a
Redis flush.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, insert, or_, select, update

from jobsys.errors import InputError, NotFound
from jobsys.lifecycle import GROUP_TERMINAL, ScheduleState, TemplateState, transition
from jobsys.store.models import JobGroup, JobTemplate, Schedule, ScheduleChange, new_id

schedules = cast(Table, Schedule.__table__)
changes = cast(Table, ScheduleChange.__table__)
templates = cast(Table, JobTemplate.__table__)
groups = cast(Table, JobGroup.__table__)

S = ScheduleState
STAMP_ID = 1
_ENDED = [s.value for s in GROUP_TERMINAL]


def bump(conn: Connection, now: datetime) -> None:
    """Say that schedules changed: beat reloads on its next tick."""
    done = conn.execute(
        update(changes)
        .where(changes.c.id == STAMP_ID)
        .values(version=changes.c.version + 1, changed_at=now)
    )
    if done.rowcount == 0:
        conn.execute(insert(changes).values(id=STAMP_ID, version=1, changed_at=now))


def stamp(conn: Connection) -> int:
    """The change stamp's version (0 before any change)."""
    value = conn.execute(select(changes.c.version).where(changes.c.id == STAMP_ID)).scalar()
    return int(value or 0)


def _with_template() -> Any:
    return select(
        schedules,
        templates.c.name.label("template_name"),
        templates.c.status.label("template_status"),
    ).join(templates, templates.c.id == schedules.c.template_id)


def get_schedule(conn: Connection, name_or_id: str, *, include_deleted: bool = False) -> Any:
    """The schedule named ``name_or_id`` (or with that id), with its template's name."""
    query = _with_template().where(
        or_(schedules.c.name == name_or_id, schedules.c.id == name_or_id)
    )
    if not include_deleted:
        query = query.where(schedules.c.status != S.DELETED.value)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("schedule", name_or_id)
    return row


def list_schedules(conn: Connection, *, include_deleted: bool = False) -> list[Any]:
    """Every schedule by name, with its template's name; deleted ones only if asked."""
    query = _with_template().order_by(schedules.c.name)
    if not include_deleted:
        query = query.where(schedules.c.status != S.DELETED.value)
    return list(conn.execute(query).all())


def firing_schedules(conn: Connection, ids: Sequence[str] | None = None) -> list[Any]:
    """ENABLED schedules whose template is active: the ones beat fires (or those of ``ids``)."""
    query = _with_template().where(
        schedules.c.status == S.ENABLED.value,
        templates.c.status != TemplateState.ARCHIVED.value,
        templates.c.deleted_at.is_(None),
        schedules.c.next_trigger_at.is_not(None),
    )
    if ids is not None:
        query = query.where(schedules.c.id.in_(list(ids)))
    return list(conn.execute(query).all())


def insert_schedule(
    conn: Connection, values: Mapping[str, Any], *, enabled: bool, now: datetime
) -> str:
    """A new schedule, ENABLED or DISABLED; a deleted schedule's name is freed for it."""
    name = str(values["name"])
    holder = conn.execute(
        select(schedules.c.id, schedules.c.status).where(schedules.c.name == name)
    ).first()
    if holder is not None:
        if holder.status != S.DELETED.value:
            raise InputError("schedule", "name", f"a schedule named {name!r} already exists")
        conn.execute(
            update(schedules)
            .where(schedules.c.id == holder.id)
            .values(name=f"{name}#deleted-{holder.id[:8]}", updated_at=now)
        )
    schedule_id = new_id()
    status = transition(S.CREATED, S.ENABLED if enabled else S.DISABLED, key=name)
    conn.execute(
        insert(schedules).values(
            **values, id=schedule_id, status=status.value, created_at=now, updated_at=now
        )
    )
    bump(conn, now)
    return schedule_id


def update_schedule(
    conn: Connection, schedule_id: str, values: Mapping[str, Any], now: datetime
) -> None:
    """Change a schedule's timing or parameters (its state is left as it is)."""
    conn.execute(
        update(schedules).where(schedules.c.id == schedule_id).values(**values, updated_at=now)
    )
    bump(conn, now)


def set_state(
    conn: Connection,
    schedule_id: str,
    to: ScheduleState,
    now: datetime,
    *,
    next_trigger_at: datetime | None = None,
) -> None:
    """Move a schedule along its lifecycle; ENABLED gets ``next_trigger_at``, others none."""
    query = select(schedules).where(schedules.c.id == schedule_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    current = conn.execute(query).one_or_none()
    if current is None:
        raise NotFound("schedule", schedule_id)
    transition(S(current.status), to, key=current.name)
    conn.execute(
        update(schedules)
        .where(schedules.c.id == schedule_id)
        .values(
            status=to.value,
            next_trigger_at=next_trigger_at if to == S.ENABLED else None,
            updated_at=now,
        )
    )
    bump(conn, now)


def claim(
    conn: Connection, schedule_id: str, due: datetime, next_at: datetime, fired: datetime | None
) -> bool:
    """Compare-and-set: move ``next_trigger_at`` from ``due`` to ``next_at`` if it still is
    ``due`` and the schedule is ENABLED. True for exactly one caller per due instant.

    ``fired`` (the latest instant that fires, None when none does) becomes
    ``last_triggered_at``. Not a change: the stamp is left alone.
    """
    values: dict[str, Any] = {"next_trigger_at": next_at}
    if fired is not None:
        values["last_triggered_at"] = fired
    done = conn.execute(
        update(schedules)
        .where(
            and_(
                schedules.c.id == schedule_id,
                schedules.c.next_trigger_at == due,
                schedules.c.status == S.ENABLED.value,
            )
        )
        .values(**values)
    )
    return done.rowcount == 1


def claim_many(
    conn: Connection,
    schedule_ids: Sequence[str],
    due: datetime,
    next_at: datetime,
    fired: datetime | None,
) -> set[str]:
    """``claim`` for many schedules sharing ``due``, ``next_at`` and ``fired``, in one
    statement; returns the ids this caller won. Each row's compare-and-set is atomic."""
    if not schedule_ids:
        return set()
    values: dict[str, Any] = {"next_trigger_at": next_at}
    if fired is not None:
        values["last_triggered_at"] = fired
    done = conn.execute(
        update(schedules)
        .where(
            schedules.c.id.in_(list(schedule_ids)),
            schedules.c.next_trigger_at == due,
            schedules.c.status == S.ENABLED.value,
        )
        .values(**values)
        .returning(schedules.c.id)
    )
    return {row.id for row in done}


def touch_triggered(conn: Connection, schedule_id: str, at: datetime) -> None:
    """Record a firing asked for by hand (``run-now``): ``next_trigger_at`` is untouched."""
    conn.execute(
        update(schedules).where(schedules.c.id == schedule_id).values(last_triggered_at=at)
    )


def last_run(conn: Connection, schedule_id: str) -> Any:
    """The latest run the schedule started (id, status, finished_at), or None."""
    return conn.execute(
        select(groups.c.id, groups.c.status, groups.c.finished_at)
        .where(groups.c.schedule_id == schedule_id)
        .order_by(groups.c.created_at.desc())
        .limit(1)
    ).first()


def open_run(conn: Connection, schedule_id: str) -> Any:
    """The latest run the schedule started that has not ended, or None."""
    return conn.execute(
        select(groups.c.id, groups.c.status)
        .where(groups.c.schedule_id == schedule_id, groups.c.status.not_in(_ENDED))
        .order_by(groups.c.created_at.desc())
        .limit(1)
    ).first()


def of_template(conn: Connection, template_id: str) -> list[Any]:
    """The schedules (not deleted) that fire a template."""
    return list(
        conn.execute(
            select(schedules).where(
                schedules.c.template_id == template_id, schedules.c.status != S.DELETED.value
            )
        ).all()
    )
