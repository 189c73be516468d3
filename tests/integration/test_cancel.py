"""Cancel is recorded in the store first, then the queued job is revoked or the running one
terminated; a cancelled job that is delivered later is dropped before it runs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobsys.client import Client
from jobsys.errors import InvalidTransition
from jobsys.lifecycle import JobState
from jobsys.testing import WorkerProcess, wait_until

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]


def test_a_queued_job_cancelled_with_no_worker_online_never_runs(
    client: Client, start_worker: StartWorker
) -> None:
    doomed = client.submit("demo.render", scene="doomed")
    assert client.cancel(doomed.id) == JobState.QUEUED
    assert doomed.status() == JobState.CANCELLED

    start_worker(["demo.gpu@1"])
    later = client.submit("demo.render", scene="later")
    assert later.wait(30) == JobState.COMPLETED
    # Its message was delivered before the later job's: it was dropped, not run.
    assert doomed.status() == JobState.CANCELLED
    assert doomed.runs() == []


def test_a_running_job_is_terminated_and_the_worker_goes_on(
    client: Client, start_worker: StartWorker
) -> None:
    worker = start_worker(["demo.basic@1"], concurrency=1)
    job = client.submit("demo.sleep", seconds=60)
    wait_until(lambda: job.status() == JobState.RUNNING, 30, message="the sleep job to run")

    assert client.cancel(job.id) == JobState.RUNNING
    assert job.status() == JobState.CANCELLED
    (run,) = job.runs()
    assert (run.status, run.error) == ("CANCELLED", "cancelled while running")

    # The only pool process was terminated and replaced: the next job runs at once,
    # not after the 60 s the sleep would have taken.
    nxt = client.submit("demo.echo", message="next")
    assert nxt.wait(20) == JobState.COMPLETED
    assert worker.alive()
    assert job.status() == JobState.CANCELLED
    assert len(job.runs()) == 1


def test_a_finished_job_cannot_be_cancelled(client: Client, start_worker: StartWorker) -> None:
    start_worker(["jobsys.noop@1"])
    job = client.submit("jobsys.noop")
    assert job.wait(30) == JobState.COMPLETED
    with pytest.raises(InvalidTransition, match="from COMPLETED to CANCELLED"):
        client.cancel(job.id)
