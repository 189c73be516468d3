"""The database scheduler in-process on the embedded store (SQLite + filesystem broker),
with a clock the test moves: claims, two beats, restarts, reloads, overlap policies.

Real ``jobsys beat`` processes on Redis + PostgreSQL are in tests/integration/test_beat.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from jobsys.client import Client
from jobsys.errors import InputError, InvalidTransition
from jobsys.lifecycle import ScheduleState
from jobsys.scheduling.beat import DatabaseScheduler, bind
from jobsys.settings import Settings
from jobsys.store import schedules
from jobsys.store.models import JobGroup

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(Settings(home=tmp_path / "home", beat_misfire_grace=10)) as c:
        c.create_template("echo", "demo.echo", {"message": "default"})
        yield c


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def beat(client: Client, clock: Clock) -> DatabaseScheduler:
    """A scheduler as ``jobsys beat`` makes one, on ``clock``."""
    return bind(client, clock)(app=client.runtime.app)


def runs_of(client: Client, schedule_id: str) -> list[Any]:
    groups = JobGroup.__table__
    with client.runtime.engine.connect() as conn:
        return list(
            conn.execute(
                select(groups).where(groups.c.schedule_id == schedule_id).order_by("created_at")
            ).all()
        )


def every_minute(client: Client, clock: Clock, **kwargs: Any) -> Any:
    """A ``* * * * *`` schedule whose first instant is T0 + 1 min."""
    row = client.create_schedule("minutely", "echo", cron="* * * * *", **kwargs)
    with client.runtime.engine.begin() as conn:
        schedules.update_schedule(conn, row.id, {"next_trigger_at": T0 + timedelta(minutes=1)}, T0)
    return client.schedule(row.id)


def test_claim_is_a_compare_and_set_only_one_caller_wins(client: Client) -> None:
    row = client.create_schedule("s", "echo", interval_seconds=60)
    due, later = row.next_trigger_at, row.next_trigger_at + timedelta(minutes=1)
    with client.runtime.engine.begin() as conn:
        assert schedules.claim(conn, row.id, due, later, due) is True
    with client.runtime.engine.begin() as conn:
        assert schedules.claim(conn, row.id, due, later, due) is False
    assert client.schedule("s").next_trigger_at == later
    assert client.schedule("s").last_triggered_at == due


def test_claim_fails_on_a_disabled_schedule(client: Client) -> None:
    row = client.create_schedule("s", "echo", interval_seconds=60)
    client.disable_schedule("s")
    with client.runtime.engine.begin() as conn:
        assert not schedules.claim(conn, row.id, row.next_trigger_at, T0, None)


def test_a_firing_creates_a_run_with_the_template_and_schedule_ids_and_overlaid_params(
    client: Client, clock: Clock
) -> None:
    row = every_minute(client, clock, params={"message": "from the schedule"})
    scheduler = beat(client, clock)
    scheduler.tick()
    assert runs_of(client, row.id) == []
    clock.advance(minutes=1, seconds=0.3)
    scheduler.tick()
    [run] = runs_of(client, row.id)
    assert run.template_id == row.template_id
    [job] = client.run_tasks(run.id)
    assert job.schedule_id == row.id and job.template_id == row.template_id
    assert job.params["message"] == "from the schedule"
    fired = client.schedule(row.id)
    assert fired.last_triggered_at == T0 + timedelta(minutes=1)
    assert fired.next_trigger_at == T0 + timedelta(minutes=2)


def test_two_beats_on_one_store_fire_each_instant_once(client: Client, clock: Clock) -> None:
    row = every_minute(client, clock)
    with Client(client.settings) as other:
        a, b = beat(client, clock), beat(other, clock)
        for _ in range(5):
            clock.advance(minutes=1)
            a.tick()
            b.tick()
            b.tick()
    assert len(runs_of(client, row.id)) == 5


def test_two_beats_fire_many_schedules_due_together_once_each(client: Client, clock: Clock) -> None:
    # 130 schedules due at one instant: three chunks, fired by threads in each beat
    ids = []
    for i in range(130):
        row = client.create_schedule(f"s{i:03d}", "echo", cron="* * * * *")
        ids.append(row.id)
    with client.runtime.engine.begin() as conn:
        for schedule_id in ids:
            schedules.update_schedule(
                conn, schedule_id, {"next_trigger_at": T0 + timedelta(minutes=1)}, T0
            )
    with Client(client.settings) as other:
        a, b = beat(client, clock), beat(other, clock)
        clock.advance(minutes=1)
        a.tick()
        b.tick()
    groups = JobGroup.__table__
    with client.runtime.engine.connect() as conn:
        fired = [
            r.schedule_id
            for r in conn.execute(select(groups.c.schedule_id, groups.c.scheduled_for)).all()
        ]
    assert sorted(fired) == sorted(ids)


def test_a_restarted_beat_does_not_fire_an_instant_again(client: Client, clock: Clock) -> None:
    row = every_minute(client, clock)
    clock.advance(minutes=1)
    beat(client, clock).tick()
    restarted = beat(client, clock)
    restarted.tick()
    assert len(runs_of(client, row.id)) == 1


def test_a_schedule_created_while_beat_runs_is_picked_up_on_the_next_tick(
    client: Client, clock: Clock
) -> None:
    scheduler = beat(client, clock)
    scheduler.tick()
    assert scheduler.schedule == {}
    row = every_minute(client, clock)
    clock.advance(minutes=1)
    scheduler.tick()
    assert len(runs_of(client, row.id)) == 1


def test_disabled_deleted_or_archived_schedules_stop_firing(client: Client, clock: Clock) -> None:
    row = every_minute(client, clock)
    scheduler = beat(client, clock)
    scheduler.tick()
    client.disable_schedule(row.id)
    clock.advance(minutes=1)
    scheduler.tick()
    assert runs_of(client, row.id) == []
    client.archive_template("echo")
    with client.runtime.engine.begin() as conn:  # enabled again, due now, template archived
        schedules.set_state(conn, row.id, ScheduleState.ENABLED, T0, next_trigger_at=clock())
    scheduler.tick()
    assert scheduler.schedule == {} and runs_of(client, row.id) == []
    client.delete_schedule(row.id)
    assert client.schedules() == []


def test_misfire_once_fires_a_single_catch_up_after_beat_was_down(
    client: Client, clock: Clock
) -> None:
    row = every_minute(client, clock, misfire="once")
    clock.advance(minutes=5, seconds=30)  # beat down across 5 instants
    beat(client, clock).tick()
    assert len(runs_of(client, row.id)) == 1
    assert client.schedule(row.id).next_trigger_at == T0 + timedelta(minutes=6)


def test_misfire_skip_fires_nothing_for_missed_instants(client: Client, clock: Clock) -> None:
    row = every_minute(client, clock)
    clock.advance(minutes=5, seconds=30)
    beat(client, clock).tick()
    assert runs_of(client, row.id) == []
    assert client.schedule(row.id).next_trigger_at == T0 + timedelta(minutes=6)


def test_misfire_all_fires_each_missed_instant(client: Client, clock: Clock) -> None:
    row = every_minute(client, clock, misfire="all")
    clock.advance(minutes=5, seconds=30)
    beat(client, clock).tick()
    assert len(runs_of(client, row.id)) == 5


def test_overlap_skip_records_a_skipped_run_with_the_reason(client: Client, clock: Clock) -> None:
    row = every_minute(client, clock, overlap="skip")
    scheduler = beat(client, clock)
    clock.advance(minutes=1)
    scheduler.tick()  # no worker: this run stays QUEUED
    clock.advance(minutes=1)
    scheduler.tick()
    first, second = runs_of(client, row.id)
    assert first.status == "QUEUED"
    assert second.status == "COMPLETED"
    assert f"previous run {first.id} has not ended" in second.error
    [job] = client.run_tasks(second.id)
    assert job.status == "SKIPPED"
    [attempt] = client.runs(job.id)
    assert attempt.status == "SKIPPED" and "overlap policy skip" in attempt.error
    assert attempt.error_type == "ScheduleOverlap"


def test_overlap_queue_holds_the_firing_until_the_previous_run_ends(
    client: Client, clock: Clock
) -> None:
    row = every_minute(client, clock, overlap="queue")
    scheduler = beat(client, clock)
    clock.advance(minutes=1)
    scheduler.tick()
    clock.advance(minutes=1)
    assert scheduler.tick() <= 1.0  # held: looks again soon
    assert len(runs_of(client, row.id)) == 1
    clock.advance(minutes=3)  # long past the grace: held, not missed
    scheduler.tick()
    assert len(runs_of(client, row.id)) == 1
    client.cancel_group(runs_of(client, row.id)[0].id)
    scheduler.tick()
    assert len(runs_of(client, row.id)) == 2


def test_create_refuses_what_a_run_would_refuse(client: Client) -> None:
    with pytest.raises(InputError, match="overlap"):
        client.create_schedule("s", "echo", interval_seconds=5, overlap="sometimes")
    with pytest.raises(InputError, match="misfire"):
        client.create_schedule("s", "echo", interval_seconds=5, misfire="never")
    with pytest.raises(InputError, match="unknown_field|extra|not permitted"):
        client.create_schedule("s", "echo", interval_seconds=5, params={"unknown_field": 1})
    client.create_schedule("s", "echo", interval_seconds=5)
    with pytest.raises(InputError, match="already exists"):
        client.create_schedule("s", "echo", interval_seconds=5)
    client.archive_template("echo")
    with pytest.raises(InvalidTransition, match="ARCHIVED"):
        client.create_schedule("t", "echo", interval_seconds=5)


def test_a_deleted_schedules_name_can_be_used_again(client: Client) -> None:
    client.create_schedule("s", "echo", interval_seconds=5)
    client.delete_schedule("s")
    again = client.create_schedule("s", "echo", cron="0 9 * * *", timezone="Europe/Paris")
    assert client.schedule("s").id == again.id
    assert [r.status for r in client.schedules(include_deleted=True)] == ["ENABLED", "DELETED"]
