"""Jobs go to the queue of their capability; only workers serving it receive them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from jobsys.client import Client
from jobsys.lifecycle import JobState
from jobsys.testing import WorkerProcess, wait_until, worker_process

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]


def test_job_waits_until_a_worker_serves_its_capability(
    client: Client, start_worker: StartWorker, jobsys_env: dict[str, str], tmp_path: Path
) -> None:
    basic = start_worker(["demo.basic@1"])
    render = client.submit("demo.render", scene="teapot")
    echo = client.submit("demo.echo", message="after the render job")

    assert echo.wait(30) == JobState.COMPLETED
    # The basic worker ran a job submitted after the render job, and never touched it.
    assert render.status() == JobState.QUEUED
    assert render.runs() == []
    assert client.runs(echo.id)[0].worker_id.startswith(basic.name)
    assert "Task demo.render[" not in basic.log_path.read_text()

    with worker_process(jobsys_env, ["demo.gpu@1"], log_dir=tmp_path) as gpu:
        assert render.wait(30) == JobState.COMPLETED
    (run,) = render.runs()
    assert run.worker_id.startswith(gpu.name + ":")
    assert "Task demo.render[" not in basic.log_path.read_text()
    assert render.result().model_dump() == {"frame": "teapot.txt"}


def test_capabilities_show_queue_depth_and_the_workers_serving_each(
    client: Client, start_worker: StartWorker
) -> None:
    basic = start_worker(["demo.basic@1"])
    client.submit("demo.render")
    client.submit("demo.render")
    infos = {i.capability: i for i in client.capabilities()}
    assert infos["demo.gpu@1"].queued == 2
    assert infos["demo.gpu@1"].broker_depth == 2
    assert infos["demo.gpu@1"].workers == []
    assert infos["demo.basic@1"].workers == [basic.name]
    assert "demo.echo" in infos["demo.basic@1"].job_types


def test_a_batch_is_submitted_at_once_and_all_of_it_runs(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker(["jobsys.noop@1"], concurrency=2)
    handles = client.submit_many("jobsys.noop", [{}] * 100)
    ids = [h.id for h in handles]
    wait_until(
        lambda: all(client.status(i) == JobState.COMPLETED for i in ids),
        timeout=60,
        message="100 no-op jobs to complete",
    )
    assert all(len(client.runs(i)) == 1 for i in ids)
