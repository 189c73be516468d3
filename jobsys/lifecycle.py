"""States and transition tables of every entity (seed 004, seed 000 §2.1), as data.

``transition(entity, current, to)`` is the one check; ``jobsys.store.writes`` is the
only caller that changes a state.

The source of truth for a job's outcome: each attempt's outcome is its ``JobRun``
(append-only). The ``Job.status`` terminal value is written in the same
transaction as the run that decides it, copied from that run's status, so
queries and views need not join; nothing else sets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import TypeVar

from jobsys.errors import InvalidTransition


class JobState(StrEnum):
    """Where a job is; a ``StrEnum`` so it serializes as itself."""

    #: created, not yet on a queue (awaiting its group or the publish)
    PENDING = "PENDING"
    #: on its capability's queue, waiting for a worker that serves it
    QUEUED = "QUEUED"
    #: handed to a worker (brief)
    DISPATCHED = "DISPATCHED"
    #: an attempt is executing
    RUNNING = "RUNNING"
    #: the last attempt succeeded
    COMPLETED = "COMPLETED"
    #: succeeded with quarantined rows or other warnings
    COMPLETED_WITH_WARNINGS = "COMPLETED_WITH_WARNINGS"
    #: the last attempt failed and no retry remains
    FAILED = "FAILED"
    #: skipped (duplicate detection, upstream failure)
    SKIPPED = "SKIPPED"
    #: cancelled before it finished
    CANCELLED = "CANCELLED"


class RunStatus(StrEnum):
    """Outcome of one attempt (a ``JobRun``)."""

    COMPLETED = "COMPLETED"
    COMPLETED_WITH_WARNINGS = "COMPLETED_WITH_WARNINGS"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    #: the attempt was terminated by a cancel request
    CANCELLED = "CANCELLED"


class GroupState(StrEnum):
    """Aggregate state of a ``JobGroup``."""

    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"
    CANCELLED = "CANCELLED"


class TemplateState(StrEnum):
    """Lifecycle of a ``JobTemplate``."""

    CREATED = "CREATED"
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class ScheduleState(StrEnum):
    """Lifecycle of a ``Schedule``."""

    CREATED = "CREATED"
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"
    DELETED = "DELETED"


E = TypeVar("E", bound=Enum)

J = JobState
JOB_TERMINAL: frozenset[JobState] = frozenset(
    {J.COMPLETED, J.COMPLETED_WITH_WARNINGS, J.FAILED, J.SKIPPED, J.CANCELLED}
)
JOB_TRANSITIONS: Mapping[JobState, frozenset[JobState]] = {
    J.PENDING: frozenset({J.QUEUED, J.RUNNING, J.SKIPPED, J.CANCELLED}),
    J.QUEUED: frozenset({J.DISPATCHED, J.RUNNING, J.SKIPPED, J.CANCELLED}),
    J.DISPATCHED: frozenset({J.RUNNING, J.QUEUED, J.CANCELLED}),
    # RUNNING -> RUNNING: redelivery after a lost worker starts a new attempt.
    # RUNNING -> QUEUED: a retryable failure waits for its next attempt.
    J.RUNNING: frozenset({J.RUNNING, J.QUEUED} | JOB_TERMINAL),
    J.COMPLETED: frozenset(),
    J.COMPLETED_WITH_WARNINGS: frozenset(),
    # Retrying a DAG run from its failure re-queues the steps its failure skipped.
    J.SKIPPED: frozenset({J.QUEUED}),
    # A manual retry re-queues a failed or cancelled job for one more attempt.
    J.FAILED: frozenset({J.QUEUED}),
    J.CANCELLED: frozenset({J.QUEUED}),
}

G = GroupState
GROUP_TERMINAL: frozenset[GroupState] = frozenset({G.COMPLETED, G.PARTIAL, G.CANCELLED})
GROUP_TRANSITIONS: Mapping[GroupState, frozenset[GroupState]] = {
    G.CREATED: frozenset({G.QUEUED, G.CANCELLED}),
    G.QUEUED: frozenset({G.RUNNING, G.CANCELLED} | GROUP_TERMINAL),
    G.RUNNING: GROUP_TERMINAL,
    G.COMPLETED: frozenset(),
    # Retrying failed members of a group re-opens it.
    G.PARTIAL: frozenset({G.QUEUED}),
    G.CANCELLED: frozenset({G.QUEUED}),
}

T = TemplateState
TEMPLATE_TRANSITIONS: Mapping[TemplateState, frozenset[TemplateState]] = {
    T.CREATED: frozenset({T.ACTIVE, T.ARCHIVED}),
    T.ACTIVE: frozenset({T.ARCHIVED}),
    # Applying the definition again revives an archived (soft-deleted) template.
    T.ARCHIVED: frozenset({T.ACTIVE}),
}

S = ScheduleState
SCHEDULE_TRANSITIONS: Mapping[ScheduleState, frozenset[ScheduleState]] = {
    S.CREATED: frozenset({S.ENABLED, S.DISABLED, S.DELETED}),
    S.ENABLED: frozenset({S.DISABLED, S.DELETED}),
    S.DISABLED: frozenset({S.ENABLED, S.DELETED}),
    S.DELETED: frozenset(),
}

TABLES: Mapping[type[Enum], Mapping[object, frozenset[object]]] = {
    JobState: JOB_TRANSITIONS,  # type: ignore[dict-item]
    GroupState: GROUP_TRANSITIONS,  # type: ignore[dict-item]
    TemplateState: TEMPLATE_TRANSITIONS,  # type: ignore[dict-item]
    ScheduleState: SCHEDULE_TRANSITIONS,  # type: ignore[dict-item]
}

#: the job state a run's outcome leaves the job in, when no retry follows
JOB_STATE_FOR_RUN: Mapping[RunStatus, JobState] = {
    RunStatus.COMPLETED: J.COMPLETED,
    RunStatus.COMPLETED_WITH_WARNINGS: J.COMPLETED_WITH_WARNINGS,
    RunStatus.FAILED: J.FAILED,
    RunStatus.SKIPPED: J.SKIPPED,
    RunStatus.CANCELLED: J.CANCELLED,
}


def can_transition(current: E, to: E) -> bool:
    """Whether the entity's table allows ``current -> to``."""
    table = TABLES[type(current)]
    return to in table[current]


def transition(current: E, to: E, *, key: str | None = None) -> E:
    """Return ``to`` if ``current -> to`` is allowed, else raise ``InvalidTransition``."""
    if not can_transition(current, to):
        entity = type(current).__name__.removesuffix("State").lower()
        raise InvalidTransition(entity, current.value, to.value, key=key)
    return to


def sources_of(to: E) -> frozenset[E]:
    """Every state from which ``to`` may be entered (for conditional UPDATEs)."""
    table = TABLES[type(to)]
    return frozenset(s for s, targets in table.items() if to in targets)  # type: ignore[misc]
