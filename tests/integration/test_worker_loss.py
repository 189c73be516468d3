"""A worker killed mid-job loses nothing: the message is redelivered (acks_late), the lost
attempt is recorded, and the job completes on another worker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobsys.client import Client
from jobsys.lifecycle import JobState
from jobsys.testing import WorkerProcess, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

StartWorker = Callable[..., WorkerProcess]


def test_kill_9_of_a_worker_mid_job_means_redelivery_never_a_lost_job(
    client: Client, start_worker: StartWorker
) -> None:
    first = start_worker(["demo.basic@1"])
    job = client.submit("demo.sleep", seconds=3)
    wait_until(lambda: job.status() == JobState.RUNNING, 30, message="the job to start")
    assert client.job(job.id).worker_id.startswith(first.name)

    first.kill()  # SIGKILL to the worker and its pool: nothing gets to clean up

    second = start_worker(["demo.basic@1"])
    # Redis hands the unacknowledged message out again after the visibility timeout (5 s here).
    assert job.wait(60) == JobState.COMPLETED
    runs = job.runs()
    assert [(r.attempt, r.status) for r in runs] == [(1, "FAILED"), (2, "COMPLETED")]
    assert runs[0].error_type == "WorkerLost"
    assert runs[0].worker_id.startswith(first.name)
    assert runs[1].worker_id.startswith(second.name)
