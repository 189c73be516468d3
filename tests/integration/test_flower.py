"""``jobsys flower`` (a real Flower process) on Redis, with a real worker sending events.

Flower's HTTP API, read with basic auth, shows the worker, the queues it consumes (its
capabilities) and a finished task whose id is the job id and whose name is the job type.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobsys.client import Client
from jobsys.testing import WorkerProcess, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

StartWorker = Callable[..., WorkerProcess]
AUTH = ("ops", "flower-test-password")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def flower_url(jobsys_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``jobsys flower`` on a free port; its output in tmp_path/flower.log."""
    port = _free_port()
    env = {**os.environ, **jobsys_env, "JOBSYS_FLOWER_BASIC_AUTH": ":".join(AUTH)}
    log = tmp_path / "flower.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobsys", "flower", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, 60, 0.2, "Flower to answer")
        yield url
    finally:
        proc.kill()
        proc.wait(10)
        assert ":".join(AUTH) not in log.read_text()  # the password is never printed


def _get(url: str, auth: Any = AUTH) -> httpx.Response:
    return httpx.get(url, auth=auth, timeout=10)


def test_flower_shows_the_worker_its_capabilities_and_a_finished_job(
    flower_url: str, start_worker: StartWorker, client: Client
) -> None:
    assert _get(f"{flower_url}/api/workers", auth=None).status_code == 401
    worker = start_worker(["demo.basic@1"], env={"JOBSYS_TASK_EVENTS": "1"})

    def listed() -> dict[str, Any]:
        workers: dict[str, Any] = _get(f"{flower_url}/api/workers?refresh=1").json()
        return workers if worker.name in workers else {}

    workers = wait_until(listed, 60, 0.5, "Flower to list the worker")
    queues = [q["name"] for q in workers[worker.name]["active_queues"]]
    assert "demo.basic@1" in queues
    job = client.submit("demo.echo", message="seen by flower")
    job.wait(60)

    def finished() -> dict[str, Any]:
        tasks: dict[str, Any] = _get(f"{flower_url}/api/tasks").json()
        task: dict[str, Any] = tasks.get(job.id, {})
        return task if task.get("state") == "SUCCESS" else {}

    task = wait_until(finished, 60, 0.5, "Flower to see the task succeed")
    assert task["name"] == "demo.echo"
    assert task["worker"] == worker.name


def test_flower_refuses_to_start_without_basic_auth(jobsys_env: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSYS_")}
    ran = subprocess.run(
        [sys.executable, "-m", "jobsys", "flower"],
        env={**env, **jobsys_env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode != 0
    assert "JOBSYS_FLOWER_BASIC_AUTH" in ran.stderr
