"""The state machines of seed 004 / seed 000 §2.1, written out here as the specification.

The expected tables below are deliberately a copy, not an import: a change to
``jobsys.lifecycle`` that is not also made here fails these tests.
"""

from __future__ import annotations

from enum import Enum
from itertools import product

import pytest

from jobsys.errors import InvalidTransition
from jobsys.lifecycle import (
    JOB_STATE_FOR_RUN,
    JOB_TERMINAL,
    GroupState,
    JobState,
    RunStatus,
    ScheduleState,
    TemplateState,
    can_transition,
    sources_of,
    transition,
)

J, G, T, S = JobState, GroupState, TemplateState, ScheduleState

EXPECTED: dict[type[Enum], dict[Enum, set[Enum]]] = {
    JobState: {
        J.PENDING: {J.QUEUED, J.RUNNING, J.SKIPPED, J.CANCELLED},
        J.QUEUED: {J.DISPATCHED, J.RUNNING, J.SKIPPED, J.CANCELLED},
        J.DISPATCHED: {J.RUNNING, J.QUEUED, J.CANCELLED},
        J.RUNNING: {
            J.RUNNING,  # redelivery after a lost worker: the next attempt
            J.QUEUED,  # a retryable failure waits for its next attempt
            J.COMPLETED,
            J.COMPLETED_WITH_WARNINGS,
            J.FAILED,
            J.SKIPPED,
            J.CANCELLED,
        },
        J.COMPLETED: set(),
        J.COMPLETED_WITH_WARNINGS: set(),
        J.SKIPPED: {J.QUEUED},  # a DAG run retried from its failure
        J.FAILED: {J.QUEUED},  # manual retry
        J.CANCELLED: {J.QUEUED},  # manual retry
    },
    GroupState: {
        G.CREATED: {G.QUEUED, G.CANCELLED},
        G.QUEUED: {G.RUNNING, G.COMPLETED, G.PARTIAL, G.CANCELLED},
        G.RUNNING: {G.COMPLETED, G.PARTIAL, G.CANCELLED},
        G.COMPLETED: set(),
        G.PARTIAL: {G.QUEUED},  # retrying failed members re-opens the group
        G.CANCELLED: {G.QUEUED},
    },
    TemplateState: {
        T.CREATED: {T.ACTIVE, T.ARCHIVED},
        T.ACTIVE: {T.ARCHIVED},
        T.ARCHIVED: {T.ACTIVE},  # applying the definition again revives it
    },
    ScheduleState: {
        S.CREATED: {S.ENABLED, S.DISABLED, S.DELETED},
        S.ENABLED: {S.DISABLED, S.DELETED},
        S.DISABLED: {S.ENABLED, S.DELETED},
        S.DELETED: set(),
    },
}

ALLOWED = [(a, b) for table in EXPECTED.values() for a, targets in table.items() for b in targets]
FORBIDDEN = [
    (a, b)
    for enum, table in EXPECTED.items()
    for a, b in product(list(enum), repeat=2)
    if b not in table[a]
]


def _id(pair: tuple[Enum, Enum]) -> str:
    a, b = pair
    return f"{type(a).__name__}:{a.value}->{b.value}"


@pytest.mark.parametrize("pair", ALLOWED, ids=_id)
def test_allowed_transition_returns_the_new_state(pair: tuple[Enum, Enum]) -> None:
    current, to = pair
    assert can_transition(current, to)
    assert transition(current, to) is to


@pytest.mark.parametrize("pair", FORBIDDEN, ids=_id)
def test_forbidden_transition_raises(pair: tuple[Enum, Enum]) -> None:
    current, to = pair
    assert not can_transition(current, to)
    with pytest.raises(InvalidTransition):
        transition(current, to)


def test_every_state_of_every_entity_has_a_row() -> None:
    for enum, table in EXPECTED.items():
        assert set(table) == set(enum), enum.__name__


def test_invalid_transition_names_entity_from_to_and_key() -> None:
    with pytest.raises(InvalidTransition) as info:
        transition(J.COMPLETED, J.RUNNING, key="job-42")
    err = info.value
    assert (err.entity, err.from_, err.to, err.key) == ("job", "COMPLETED", "RUNNING", "job-42")
    assert str(err) == "job job-42 cannot go from COMPLETED to RUNNING"
    assert err.exit_code == 5


@pytest.mark.parametrize(
    ("current", "to", "entity"),
    [
        (G.COMPLETED, G.RUNNING, "group"),
        (T.ACTIVE, T.CREATED, "template"),
        (S.DELETED, S.ENABLED, "schedule"),
    ],
)
def test_invalid_transition_names_each_entity(current: Enum, to: Enum, entity: str) -> None:
    with pytest.raises(InvalidTransition, match=f"^{entity} cannot go from "):
        transition(current, to)


def test_terminal_job_states_have_no_exit_but_a_retry() -> None:
    assert JOB_TERMINAL == {
        J.COMPLETED,
        J.COMPLETED_WITH_WARNINGS,
        J.FAILED,
        J.SKIPPED,
        J.CANCELLED,
    }
    exits = {state: {to for to in J if can_transition(state, to)} for state in JOB_TERMINAL}
    assert exits == {
        J.COMPLETED: set(),
        J.COMPLETED_WITH_WARNINGS: set(),
        J.SKIPPED: {J.QUEUED},
        J.FAILED: {J.QUEUED},
        J.CANCELLED: {J.QUEUED},
    }


def test_a_completed_job_cannot_be_retried_or_cancelled() -> None:
    for to in (J.QUEUED, J.CANCELLED, J.RUNNING, J.FAILED):
        with pytest.raises(InvalidTransition):
            transition(J.COMPLETED, to)


def test_sources_of_lists_every_state_that_may_enter() -> None:
    assert sources_of(J.RUNNING) == {J.PENDING, J.QUEUED, J.DISPATCHED, J.RUNNING}
    assert sources_of(J.QUEUED) == {
        J.PENDING,
        J.DISPATCHED,
        J.RUNNING,
        J.FAILED,
        J.CANCELLED,
        J.SKIPPED,
    }
    assert sources_of(S.ENABLED) == {S.CREATED, S.DISABLED}


def test_every_run_outcome_maps_to_a_terminal_job_state() -> None:
    assert set(JOB_STATE_FOR_RUN) == set(RunStatus)
    assert all(state in JOB_TERMINAL for state in JOB_STATE_FOR_RUN.values())
    assert JOB_STATE_FOR_RUN[RunStatus.FAILED] is J.FAILED


def test_states_serialize_as_themselves() -> None:
    assert str(J.COMPLETED_WITH_WARNINGS) == "COMPLETED_WITH_WARNINGS"
    assert J("QUEUED") is J.QUEUED
    assert [s.value for s in RunStatus] == [s.name for s in RunStatus]
