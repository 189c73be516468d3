"""Fixtures for integration tests: real ``jobsys worker`` processes on Redis and PostgreSQL.

Workers are started per test (``start_worker``) and stopped at its end: a worker
shared across tests would take messages meant for another test's worker. Each test
also gets an empty Redis database and its own JOBSYS_HOME; the PostgreSQL database
is shared by the session, so tests look only at the jobs they submitted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobsys.client import Client
from jobsys.testing import WorkerProcess, settings_from_env

#: ``start_worker(capabilities, concurrency=1, env=None) -> WorkerProcess``
StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def jobsys_env(tmp_path: Path, pg_url: str, redis_url: str) -> dict[str, str]:
    """Settings as environment variables, for worker processes and the client alike.

    Heartbeats every second and a 5 s visibility timeout let a killed worker's job be
    redelivered, and its lost attempt recognised, within seconds.
    """
    return {
        "JOBSYS_BROKER_URL": redis_url,
        "JOBSYS_DATABASE_URL": pg_url,
        "JOBSYS_HOME": str(tmp_path / "home"),
        "JOBSYS_HEARTBEAT_INTERVAL": "1",
        "JOBSYS_VISIBILITY_TIMEOUT": "5",
    }


@pytest.fixture
def client(jobsys_env: dict[str, str]) -> Iterator[Client]:
    """A client on the test's broker and store."""
    with Client(settings_from_env(jobsys_env)) as c:
        yield c


@pytest.fixture
def start_worker(
    jobsys_env: dict[str, str], tmp_path: Path, client: Client
) -> Iterator[StartWorker]:
    """``start_worker(["demo.basic@1"], concurrency=1, env=None)``: a worker answering pings.

    ``env`` overrides some of ``jobsys_env`` (another broker, say). Every worker started
    is killed at teardown (SIGKILL to its process group).
    """
    started: list[WorkerProcess] = []

    def start(
        capabilities: list[str], concurrency: int = 1, env: dict[str, str] | None = None
    ) -> WorkerProcess:
        worker = WorkerProcess(
            {**jobsys_env, **(env or {})},
            capabilities,
            concurrency=concurrency,
            log_dir=tmp_path / "workers",
        )
        started.append(worker)
        if env:  # another broker, maybe: ping through the worker's own settings
            return worker.wait_ready()
        return worker.wait_ready(lambda name: bool(client.runtime.app.control.ping([name], 0.5)))

    yield start
    # The test is over and its Redis database is flushed next: a warm shutdown would only
    # add a second or two per worker.
    for worker in started:
        worker.kill()
