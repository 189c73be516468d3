"""Real ``jobsys beat`` processes on Redis + PostgreSQL: firing, reloads, two beats, restarts.

Schedules here fire every second, and beat looks at the store every 0.5 s
(``JOBSYS_BEAT_MAX_LOOP_INTERVAL``), so each test takes a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from jobsys.client import Client
from jobsys.lifecycle import GroupState
from jobsys.store.models import JobGroup
from jobsys.testing import BeatProcess, WorkerProcess, wait_until

StartWorker = Callable[..., WorkerProcess]

pytestmark = [pytest.mark.integration, pytest.mark.slow]

StartBeat = Callable[[], BeatProcess]
groups = JobGroup.__table__


@pytest.fixture
def start_beat(jobsys_env: dict[str, str], tmp_path: Path) -> Iterator[StartBeat]:
    """``start_beat()``: a ready ``jobsys beat`` on the test's store and broker; killed after."""
    started: list[BeatProcess] = []

    def start() -> BeatProcess:
        env = {**jobsys_env, "JOBSYS_BEAT_MAX_LOOP_INTERVAL": "0.5"}
        beat = BeatProcess(env, log_dir=tmp_path / "beats")
        started.append(beat)
        return beat.wait_ready()

    yield start
    for beat in started:
        beat.kill()


@pytest.fixture
def echo(client: Client) -> str:
    """A template running ``demo.echo``."""
    name = f"echo-{datetime.now(UTC).strftime('%H%M%S%f')}"
    client.create_template(name, "demo.echo", {"message": "default"})
    return name


def fired(client: Client, schedule_id: str) -> list[Any]:
    """The runs a schedule started, by scheduled instant."""
    with client.runtime.engine.connect() as conn:
        return list(
            conn.execute(
                select(groups)
                .where(groups.c.schedule_id == schedule_id)
                .order_by(groups.c.scheduled_for, groups.c.created_at)
            ).all()
        )


def at_least(client: Client, schedule_id: str, n: int, timeout: float = 20) -> list[Any]:
    """Wait until the schedule has started ``n`` runs; return them."""

    def enough() -> list[Any] | None:
        runs = fired(client, schedule_id)
        return runs if len(runs) >= n else None

    return wait_until(
        enough,
        timeout,
        0.1,
        f"{n} runs of schedule {schedule_id}",
    )


def assert_once_per_instant(runs: list[Any]) -> None:
    """No instant fired twice, and none skipped between the first and the last."""
    instants = [r.scheduled_for for r in runs]
    assert len(set(instants)) == len(instants), f"doubled: {instants}"
    gaps = [(b - a).total_seconds() for a, b in zip(instants, instants[1:], strict=False)]
    assert all(g == 1.0 for g in gaps), f"gaps between instants: {gaps}"


def test_an_every_second_schedule_runs_its_template_on_time_through_a_worker(
    client: Client, start_worker: StartWorker, start_beat: StartBeat, echo: str
) -> None:
    start_worker(["demo.basic@1"])
    schedule = client.create_schedule(
        "every-second", echo, interval_seconds=1, params={"message": "scheduled"}
    )
    start_beat()
    runs = at_least(client, schedule.id, 4)
    assert_once_per_instant(runs)
    for run in runs[:3]:
        assert client.wait_group(run.id, 30) == GroupState.COMPLETED
        [job] = client.run_tasks(run.id)
        assert (job.schedule_id, job.template_id) == (schedule.id, schedule.template_id)
        assert job.params["message"] == "scheduled"
    late = [(r.created_at - r.scheduled_for).total_seconds() for r in runs[1:4]]
    assert all(0 <= s < 1.0 for s in late), late
    assert client.schedule(schedule.id).last_triggered_at >= runs[3].scheduled_for


def test_schedules_created_changed_disabled_and_deleted_while_beat_runs_take_effect(
    client: Client, start_beat: StartBeat, echo: str
) -> None:
    start_beat()
    a = client.create_schedule("a", echo, interval_seconds=1)
    at_least(client, a.id, 2, timeout=10)

    client.update_schedule("a", params={"message": "changed"})
    wait_until(
        lambda: any(
            client.run_tasks(r.id)[0].params["message"] == "changed" for r in fired(client, a.id)
        ),
        10,
        0.2,
        "a run with the changed parameters",
    )

    disabled_at = datetime.now(UTC)
    client.disable_schedule("a")
    marker = client.create_schedule("marker", echo, interval_seconds=1)
    at_least(client, marker.id, 2, timeout=10)  # beat reloaded after the disable
    assert all(r.scheduled_for <= disabled_at for r in fired(client, a.id))

    deleted_at = datetime.now(UTC)
    client.delete_schedule("marker")
    b = client.create_schedule("b", echo, interval_seconds=1)
    at_least(client, b.id, 2, timeout=10)
    assert all(r.scheduled_for <= deleted_at for r in fired(client, marker.id))


def test_two_beats_never_fire_an_instant_twice(
    client: Client, start_beat: StartBeat, echo: str
) -> None:
    ids = [client.create_schedule(f"s{i}", echo, interval_seconds=1).id for i in range(5)]
    first, second = start_beat(), start_beat()
    for schedule_id in ids:
        at_least(client, schedule_id, 6)
    first.kill()
    second.kill()
    for schedule_id in ids:
        assert_once_per_instant(fired(client, schedule_id))


def test_a_restarted_beat_does_not_fire_an_instant_again(
    client: Client, start_beat: StartBeat, echo: str
) -> None:
    schedule = client.create_schedule("restart", echo, interval_seconds=1)
    beat = start_beat()
    before = len(at_least(client, schedule.id, 3))
    beat.kill()
    start_beat()
    runs = at_least(client, schedule.id, before + 3)
    instants = [r.scheduled_for for r in runs]
    assert len(set(instants)) == len(instants), f"doubled: {instants}"
    # killed and restarted within the misfire grace: the instants beat was down for are
    # missed (policy skip) except the latest, which fires as on time
    assert all(b - a >= timedelta(seconds=1) for a, b in zip(instants, instants[1:], strict=False))
