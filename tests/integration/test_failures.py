"""Fatal failures end at once; retryable ones retry per policy; every attempt is a JobRun."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from jobsys.client import Client
from jobsys.errors import JobFailed
from jobsys.lifecycle import JobState
from jobsys.testing import WorkerProcess, wait_until

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def worker(start_worker: StartWorker) -> None:
    start_worker(["demo.basic@1"])


@pytest.mark.usefixtures("worker")
def test_a_fatal_failure_fails_the_job_after_one_attempt(client: Client) -> None:
    job = client.submit("demo.explode", reason="the source is unreadable")
    assert job.wait(30) == JobState.FAILED
    (run,) = job.runs()
    assert (run.status, run.error_type, run.exit_code) == ("FAILED", "FatalJobError", 1)
    assert run.error == "the source is unreadable"
    assert "FatalJobError" in run.traceback
    with pytest.raises(JobFailed, match="the source is unreadable"):
        job.result()


@pytest.mark.usefixtures("worker")
def test_a_retryable_failure_retries_and_each_attempt_leaves_a_run(client: Client) -> None:
    job = client.submit("demo.flaky", succeed_on_attempt=2)
    assert job.wait(30) == JobState.COMPLETED
    runs = job.runs()
    assert [(r.attempt, r.status) for r in runs] == [(1, "FAILED"), (2, "COMPLETED")]
    assert runs[0].error_type == "RetryableJobError"
    assert runs[0].finished_at <= runs[1].started_at
    assert job.result().model_dump() == {"attempt": 2}


@pytest.mark.usefixtures("worker")
def test_retries_stop_at_the_policys_max_attempts(client: Client) -> None:
    job = client.submit("demo.flaky", succeed_on_attempt=5)
    assert job.wait(30) == JobState.FAILED
    assert [r.status for r in job.runs()] == ["FAILED"] * 3
    assert client.job(job.id).attempt == 3


@pytest.mark.usefixtures("worker")
def test_outputs_are_published_atomically_and_staging_is_left_empty(
    client: Client, jobsys_env: dict[str, str]
) -> None:
    job = client.submit("demo.echo", message="hello", times=3)
    assert job.wait(30) == JobState.COMPLETED
    row = client.job(job.id)
    out = Path(row.output_path)
    assert (out / "echo.txt").read_text() == "hello\n" * 3
    assert row.output_size_bytes == len("hello\n" * 3)
    assert job.runs()[0].artifacts == {"files": [str(out / "echo.txt")]}
    staging = Path(jobsys_env["JOBSYS_HOME"]) / ".staging"
    assert not staging.exists() or list(staging.iterdir()) == []


@pytest.mark.usefixtures("worker")
def test_a_manual_retry_runs_a_failed_job_again(client: Client) -> None:
    job = client.submit("demo.flaky", succeed_on_attempt=4)
    assert job.wait(30) == JobState.FAILED
    client.retry(job.id)
    assert job.wait(30) == JobState.COMPLETED
    assert [r.status for r in job.runs()] == ["FAILED"] * 3 + ["COMPLETED"]


def test_a_job_whose_message_never_left_is_requeued_and_runs_once(
    client: Client, start_worker: StartWorker
) -> None:
    from datetime import UTC, datetime

    from jobsys.store import writes
    from jobsys.store.models import new_id

    # A client that died between inserting the row and publishing its message.
    job_id, now = new_id(), datetime.now(UTC)
    row = {
        "id": job_id,
        "task_id": job_id,
        "job_type": "jobsys.noop",
        "capability": "jobsys.noop@1",
        "params": {},
        "priority": 5,
        "max_attempts": 3,
        "created_at": now,
        "updated_at": now,
    }
    with client.runtime.engine.begin() as conn:
        writes.insert_jobs(conn, [row])
    queued = client.submit("jobsys.noop")  # one with its message, already on the queue

    assert client.requeue(older_than=0, include_queued=True) == [job_id, queued.id]
    assert client.status(job_id) == JobState.QUEUED
    worker = start_worker(["jobsys.noop@1"], concurrency=2)
    assert client.wait(job_id, 30) == JobState.COMPLETED
    assert queued.wait(30) == JobState.COMPLETED
    # Two messages for the already-queued job, one attempt: the second delivery is recorded
    # SKIPPED (a run of its own), and the job stays as the first left it.
    wait_until(
        lambda: f"dropping delivery: job {queued.id} is COMPLETED" in worker.log_tail(500),
        30,
        message="the duplicate delivery to be dropped",
    )
    assert len(client.runs(job_id)) == 1
    assert [(r.status, r.error_type) for r in queued.runs()] == [
        ("COMPLETED", None),
        ("SKIPPED", "DuplicateDelivery"),
    ]
    assert queued.status() == JobState.COMPLETED
