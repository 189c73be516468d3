"""Priority is honoured by the broker; a sequential group runs by position, reorderable."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobsys.client import Client
from jobsys.lifecycle import GroupState, JobState
from jobsys.testing import WorkerProcess, settings_from_env, wait_until

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]


def _high_priority_runs_ahead(
    client: Client, start_worker: StartWorker, env: dict[str, str]
) -> None:
    start_worker(["demo.basic@1", "jobsys.noop@1"], concurrency=1, env=env)
    busy = client.submit("demo.sleep", seconds=2, priority=9)
    wait_until(lambda: busy.status() == JobState.RUNNING, 30, message="the worker to be busy")

    low = client.submit_many("jobsys.noop", [{}] * 200, priority=0)
    high = client.submit("jobsys.noop", priority=9)
    ids = [h.id for h in low]
    wait_until(
        lambda: all(client.status(i) == JobState.COMPLETED for i in ids),
        timeout=90,
        message="the low-priority jobs",
    )
    high_started = client.job(high.id).started_at
    ahead = sum(1 for i in ids if client.job(i).started_at < high_started)
    assert ahead < 20, f"{ahead} of 200 low-priority jobs ran before the high-priority one"


def test_a_high_priority_job_runs_ahead_of_a_low_priority_backlog_on_redis(
    client: Client, start_worker: StartWorker
) -> None:
    _high_priority_runs_ahead(client, start_worker, {})


def test_a_high_priority_job_runs_ahead_of_a_low_priority_backlog_on_rabbitmq(
    jobsys_env: dict[str, str], rabbitmq_url: str, start_worker: StartWorker
) -> None:
    env = {"JOBSYS_BROKER_URL": rabbitmq_url}
    with Client(settings_from_env({**jobsys_env, **env})) as rabbit:
        _high_priority_runs_ahead(rabbit, start_worker, env)


def test_a_sequential_group_runs_one_at_a_time_in_position_order_and_can_be_reordered(
    client: Client, start_worker: StartWorker
) -> None:
    items = [("demo.echo", {"message": m}) for m in ("a", "b", "c", "d")]
    group_id = client.submit_group(items, mode="sequential", name="in order")
    _, jobs = client.group(group_id)
    assert [j.status for j in jobs] == ["QUEUED", "PENDING", "PENDING", "PENDING"]
    a, b, c, d = (j.id for j in jobs)
    client.reorder(group_id, [d, b, c])

    start_worker(["demo.basic@1"], concurrency=2)
    wait_until(
        lambda: client.group(group_id)[0].status == GroupState.COMPLETED,
        30,
        message="the group to complete",
    )
    _, jobs = client.group(group_id)
    by_start = sorted(jobs, key=lambda j: j.started_at)
    assert [j.id for j in by_start] == [a, d, b, c]
    for earlier, later in zip(by_start, by_start[1:], strict=False):
        assert earlier.finished_at <= later.started_at, "members overlapped"


def test_a_sequential_group_goes_on_past_a_failed_member_and_ends_partial(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker(["demo.basic@1"], concurrency=2)
    members = [
        ("demo.echo", {"message": "a"}),
        ("demo.explode", {}),
        ("demo.echo", {"message": "c"}),
    ]
    group_id = client.submit_group(members, mode="sequential")
    wait_until(
        lambda: client.group(group_id)[0].status == GroupState.PARTIAL,
        30,
        message="the group to end PARTIAL",
    )
    _, jobs = client.group(group_id)
    assert [(j.job_type, j.status) for j in jobs] == [
        ("demo.echo", "COMPLETED"),
        ("demo.explode", "FAILED"),
        ("demo.echo", "COMPLETED"),
    ]
    assert jobs[1].finished_at <= jobs[2].started_at


def test_a_group_with_a_failed_member_ends_partial(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker(["demo.basic@1", "jobsys.noop@1"], concurrency=2)
    # Many members ending at the same moment: the group must still be settled exactly once.
    members = [("jobsys.noop", {})] * 30 + [("demo.explode", {})]
    partial = client.submit_group(members, mode="parallel")
    complete = client.submit_group([("jobsys.noop", {})] * 30, mode="parallel")
    wait_until(
        lambda: (
            client.group(partial)[0].status == GroupState.PARTIAL
            and client.group(complete)[0].status == GroupState.COMPLETED
        ),
        30,
        message="one group PARTIAL and the other COMPLETED",
    )
