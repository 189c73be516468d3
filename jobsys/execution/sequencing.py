"""JobGroup bookkeeping around attempts: a group runs when a member starts, settles when all
are terminal, a sequential group dispatches its next member (by position) when one ends, and
a DAG run records why it failed and which callbacks are due when it settles."""

from __future__ import annotations

import time
from dataclasses import dataclass
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


#: when this process last marked each group RUNNING (monotonic seconds)
_marked: dict[str, float] = {}
#: a group's members starting within this many seconds of each other mark it once
MARK_EVERY = 5.0


def on_start(conn: Connection, started: writes.Started, now: datetime) -> None:
    """A member started: its group is RUNNING (one conditional UPDATE, and not for every
    member of a large fan-out: at most once per group every ``MARK_EVERY`` seconds)."""
    if not started.group_id:
        return
    clock = time.monotonic()
    if clock - _marked.get(started.group_id, -MARK_EVERY) < MARK_EVERY:
        return
    writes.group_running(conn, started.group_id, now)
    if len(_marked) > 10_000:
        _marked.clear()
    _marked[started.group_id] = clock


@dataclass(frozen=True)
class AfterTerminal:
    """What a member's end leaves to do after the commit."""

    #: a sequential group's next member, to publish
    next_job: Any = None
    #: the group closed (a DAG run's callbacks are then due)
    settled: GroupState | None = None


def after_terminal(conn: Connection, started: writes.Started, now: datetime) -> AfterTerminal:
    """A member ended: settle the group; say what to dispatch next, if sequential."""
    if not started.group_id:
        return AfterTerminal()
    # Locked: members ending together settle the group (or pick the next) one at a time.
    mode = conn.execute(
        select(groups.c.mode).where(groups.c.id == started.group_id).with_for_update()
    ).scalar_one()
    if mode == "dag":
        from jobsys.execution.dag import settle

        return AfterTerminal(settled=settle(conn, started.group_id, now))
    nxt = writes.next_in_sequence(conn, started.group_id) if mode == "sequential" else None
    if nxt is None:
        return AfterTerminal(settled=writes.settle_group(conn, started.group_id, now))
    return AfterTerminal(next_job=nxt)


def settle_dag_after_commit(runtime: Runtime, group_id: str) -> GroupState | None:
    """After a DAG step's end was committed: close the run if nothing in it is open.

    No lock while jobs are open (the common case, one probe). Each step checks after its
    own commit, so the last one to commit sees every other end and settles the run;
    two settling at once are serialized by ``settle``'s lock on the group row.
    """
    with runtime.autocommit.connect() as conn:
        if writes.has_open_jobs(conn, group_id):
            return None
    from jobsys.execution.dag import settle

    with runtime.engine.begin() as conn:
        return settle(conn, group_id, datetime.now(UTC))


def dispatch_next(runtime: Runtime, row: Any) -> None:
    """Publish a sequential group's next member, then mark it QUEUED."""
    publish(runtime, [message_for(row)])
    with runtime.engine.begin() as conn:
        writes.mark_queued(conn, [row.id], datetime.now(UTC))
