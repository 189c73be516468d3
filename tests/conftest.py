"""Real-service fixtures: Redis, PostgreSQL and RabbitMQ on loopback, never mocks.

A missing service skips the tests that need it when run locally, and fails them
under ``CI=true`` (dramatiq's ``check_redis`` rule). Isolation: one PostgreSQL
database per test session (created, migrated, dropped), one Redis database number
per session, flushed before every test that uses it, and a fresh JOBSYS_HOME per test.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from jobsys.client import Client
from jobsys.runtime import Runtime
from jobsys.settings import Settings
from jobsys.testing import WorkerProcess, postgres_database

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379"
AMQP = "amqp://guest:guest@127.0.0.1:5672//"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def require(service: str, port: int) -> None:
    """Skip locally, fail in CI, when ``service`` does not answer."""
    if _answers(port):
        return
    message = f"{service} does not answer on 127.0.0.1:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing service is a failure)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this session."""
    require("PostgreSQL", 5432)
    with postgres_database(f"jobsys_test_{uuid.uuid4().hex[:10]}", PG_ADMIN) as url:
        yield url


@pytest.fixture(scope="session")
def redis_db() -> int:
    """A Redis database number for this session (8..15)."""
    require("Redis", 6379)
    return random.randint(8, 15)


@pytest.fixture
def redis_url(redis_db: int) -> Iterator[str]:
    """The session's Redis database, empty at the start and end of the test."""
    client = redis.Redis.from_url(f"{REDIS}/{redis_db}")
    client.flushdb()
    yield f"{REDIS}/{redis_db}"
    client.flushdb()
    client.close()


@pytest.fixture
def jobsys_env(tmp_path: Path, pg_url: str, redis_url: str) -> dict[str, str]:
    """Settings as environment variables, for worker processes and the client alike."""
    return {
        "JOBSYS_BROKER_URL": redis_url,
        "JOBSYS_DATABASE_URL": pg_url,
        "JOBSYS_HOME": str(tmp_path / "home"),
        "JOBSYS_HEARTBEAT_INTERVAL": "1",
        "JOBSYS_VISIBILITY_TIMEOUT": "5",
    }


def settings_from(env: dict[str, str]) -> Settings:
    """The ``Settings`` a process started with ``env`` would read."""
    values = {k.removeprefix("JOBSYS_").lower(): v for k, v in env.items()}
    return Settings(**values)


@pytest.fixture
def client(jobsys_env: dict[str, str]) -> Iterator[Client]:
    """A client on the test's broker and store."""
    with Client(settings_from(jobsys_env)) as c:
        yield c


StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def start_worker(
    jobsys_env: dict[str, str], tmp_path: Path, client: Client
) -> Iterator[StartWorker]:
    """``start_worker(["demo.basic@1"], concurrency=1)``: a ready worker, stopped at teardown."""
    started: list[WorkerProcess] = []

    def start(
        capabilities: list[str], concurrency: int = 1, env: dict[str, str] | None = None
    ) -> WorkerProcess:
        worker_env = {**jobsys_env, **(env or {})}
        worker = WorkerProcess(
            worker_env, capabilities, concurrency=concurrency, log_dir=tmp_path / "workers"
        )
        started.append(worker)
        ping_runtime = client.runtime if env is None else Runtime(settings_from(worker_env))
        return worker.wait_ready(lambda name: bool(ping_runtime.app.control.ping([name], 0.5)))

    yield start
    for worker in started:
        worker.stop()
