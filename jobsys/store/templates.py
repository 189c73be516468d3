"""Reads and writes of ``job_templates``, with SQLAlchemy Core on a caller's connection.

A template's state changes only here, and only along ``jobsys.lifecycle``'s
template table: created ACTIVE, soft-deleted to ARCHIVED (``deleted_at`` set),
revived to ACTIVE when its definition is applied again. Archiving one bumps the
schedules' change stamp: beat stops firing its schedules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, or_, select, update

from jobsys.errors import NotFound
from jobsys.lifecycle import TemplateState, transition
from jobsys.store import schedules
from jobsys.store.models import JobTemplate, new_id

templates = cast(Table, JobTemplate.__table__)

T = TemplateState


def get_template(conn: Connection, name_or_id: str, *, include_deleted: bool = True) -> Any:
    """The template named ``name_or_id`` (or with that id), or ``NotFound``."""
    query = select(templates).where(
        or_(templates.c.name == name_or_id, templates.c.id == name_or_id)
    )
    if not include_deleted:
        query = query.where(templates.c.deleted_at.is_(None))
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("template", name_or_id)
    return row


def list_templates(conn: Connection, *, include_deleted: bool = False) -> list[Any]:
    """Every template by name; soft-deleted ones only with ``include_deleted``."""
    query = select(templates).order_by(templates.c.name)
    if not include_deleted:
        query = query.where(templates.c.deleted_at.is_(None))
    return list(conn.execute(query).all())


def insert_template(conn: Connection, values: Mapping[str, Any], now: datetime) -> str:
    """Insert a new template, ACTIVE; return its id."""
    template_id = str(values.get("id") or new_id())
    status = transition(T.CREATED, T.ACTIVE, key=str(values["name"]))
    row = {**values, "id": template_id, "status": status.value}
    conn.execute(insert(templates).values(**row, created_at=now, updated_at=now))
    return template_id


def update_template(
    conn: Connection, template_id: str, values: Mapping[str, Any], now: datetime
) -> None:
    """Replace a template's definition fields; a soft-deleted template is revived (ACTIVE)."""
    current = _locked(conn, template_id)
    extra: dict[str, Any] = {}
    if current.deleted_at is not None or current.status != T.ACTIVE.value:
        extra = {
            "status": transition(T(current.status), T.ACTIVE, key=current.name).value,
            "deleted_at": None,
        }
    conn.execute(
        update(templates)
        .where(templates.c.id == template_id)
        .values(**values, **extra, updated_at=now)
    )


def soft_delete(conn: Connection, template_id: str, now: datetime) -> Any:
    """ARCHIVED with ``deleted_at`` set (seed 004: soft-deleted, not for new jobs); the row."""
    current = _locked(conn, template_id)
    status = transition(T(current.status), T.ARCHIVED, key=current.name)
    conn.execute(
        update(templates)
        .where(templates.c.id == template_id)
        .values(status=status.value, deleted_at=now, updated_at=now)
    )
    schedules.bump(conn, now)  # its schedules stop firing: beat reloads
    return get_template(conn, template_id)


def _locked(conn: Connection, template_id: str) -> Any:
    query = select(templates).where(templates.c.id == template_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    if row is None:
        raise NotFound("template", template_id)
    return row
