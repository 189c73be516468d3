"""Real-service fixtures: Redis, PostgreSQL and RabbitMQ on loopback, never mocks.

A missing service skips the tests that need it when run locally, and fails them
under ``CI=true`` (dramatiq's ``check_redis`` rule). Isolation, so that two test
sessions on one machine never see each other's data:

- PostgreSQL: one database per session (created, migrated, dropped at the end);
- Redis: one database number of 9..15 per session, reserved by a marker key so a
  concurrent session picks another, flushed before and after every test using it;
- RabbitMQ: one virtual host per test (``rabbitmqctl``), else the shared ``/`` purged.

On top of them, for integration and end-to-end tests alike: ``jobsys_env`` (settings as
environment variables), ``client`` and ``start_worker`` (real ``jobsys worker`` processes).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from hypothesis import settings as hypothesis_settings

from jobsys.celery import DEFAULT_QUEUE
from jobsys.client import Client
from jobsys.jobtypes import discover
from jobsys.testing import WorkerProcess, postgres_database, settings_from_env

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"
#: Redis database numbers the tests may take; 0..8 are left to people and programs.
REDIS_TEST_DBS = range(9, 16)
#: the key marking a Redis database as taken by a live test session (value: its token)
REDIS_MARKER = "jobsys:test-session"

# Hypothesis: the same examples every run (CI and local alike), no example database on
# disk, no per-example deadline on a shared machine. `HYPOTHESIS_PROFILE=explore` searches
# wider and at random, to find new failures (keep each as an explicit `@example`).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None)
hypothesis_settings.register_profile("explore", max_examples=2000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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


@dataclass(frozen=True)
class RedisReservation:
    """A Redis database number taken by this session, and the token marking it."""

    number: int
    token: str

    def flush(self) -> None:
        """Empty the database but keep it marked as ours, in one transaction."""
        with redis.Redis.from_url(f"{REDIS}/{self.number}") as client:
            pipe = client.pipeline(transaction=True)
            pipe.flushdb().set(REDIS_MARKER, self.token, ex=3600).execute()


@pytest.fixture(scope="session")
def redis_db() -> Iterator[RedisReservation]:
    """A Redis database number reserved for this session, released at the end."""
    require("Redis", 6379)
    token = uuid.uuid4().hex
    for number in random.sample(REDIS_TEST_DBS, len(REDIS_TEST_DBS)):
        with redis.Redis.from_url(f"{REDIS}/{number}") as client:
            if client.set(REDIS_MARKER, token, nx=True, ex=3600):
                break
    else:
        pytest.fail(f"every Redis test database ({REDIS_TEST_DBS}) is taken by another session")
    yield RedisReservation(number, token)
    with redis.Redis.from_url(f"{REDIS}/{number}") as client:
        if client.get(REDIS_MARKER) == token.encode():
            client.flushdb()


@pytest.fixture
def redis_url(redis_db: RedisReservation) -> Iterator[str]:
    """The session's Redis database, empty (but for its marker) at the start and end of a test."""
    redis_db.flush()
    yield f"{REDIS}/{redis_db.number}"
    redis_db.flush()


def _rabbitmqctl(*args: str) -> bool:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        return False
    ran = subprocess.run([ctl, "-q", *args], capture_output=True, timeout=30, check=False)
    return ran.returncode == 0


def _purge_shared_vhost() -> None:
    from kombu import Connection

    with Connection(AMQP) as conn:
        for queue in [DEFAULT_QUEUE, *(str(c) for c in discover([]).by_capability())]:
            channel = conn.channel()
            try:
                channel.queue_purge(queue)
            except conn.channel_errors:  # the queue does not exist (yet)
                pass
            finally:
                channel.close()


@pytest.fixture
def rabbitmq_url() -> Iterator[str]:
    """A RabbitMQ virtual host of this test's own, deleted afterwards.

    Without ``rabbitmqctl`` (a broker on another machine), the shared ``/`` vhost,
    its jobsys queues purged first.
    """
    require("RabbitMQ", 5672)
    vhost = f"jobsys_test_{uuid.uuid4().hex[:10]}"
    if not _rabbitmqctl("add_vhost", vhost):
        _purge_shared_vhost()
        yield AMQP
        return
    try:
        if not _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"):
            pytest.fail(f"rabbitmqctl could not give guest access to vhost {vhost}")
        yield AMQP + vhost
    finally:
        _rabbitmqctl("delete_vhost", vhost)


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
