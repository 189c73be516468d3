"""JobGroup bookkeeping around attempts: a group runs when a member starts, settles when all
are terminal, and a sequential group dispatches its next member (by position) when one ends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select

from jobsys.execution.dispatch import Message, publish
from jobsys.lifecycle import GroupState
from jobsys.runtime import Runtime
from jobsys.store import writes
from jobsys.store.models import JobGroup

groups = cast(Table, JobGroup.__table__)


def message_for(row: Any) -> Message:
    """The queue message of a job row."""
    return Message(row.id, row.job_type, row.capability, row.priority, row.task_id or row.id)


def on_start(conn: Connection, started: writes.Started, now: datetime) -> None:
    """A member started: its group is RUNNING."""
    if started.group_id:
        writes.set_group_state(conn, started.group_id, GroupState.RUNNING, now)


def after_terminal(conn: Connection, started: writes.Started, now: datetime) -> Any:
    """A member ended: settle the group; return the next member to dispatch, if sequential."""
    if not started.group_id:
        return None
    # Locked: members ending together settle the group (or pick the next) one at a time.
    mode = conn.execute(
        select(groups.c.mode).where(groups.c.id == started.group_id).with_for_update()
    ).scalar_one()
    nxt = writes.next_in_sequence(conn, started.group_id) if mode == "sequential" else None
    if nxt is None:
        writes.settle_group(conn, started.group_id, now)
    return nxt


def dispatch_next(runtime: Runtime, row: Any) -> None:
    """Publish a sequential group's next member, then mark it QUEUED."""
    publish(runtime, [message_for(row)])
    with runtime.engine.begin() as conn:
        writes.mark_queued(conn, [row.id], datetime.now(UTC))
