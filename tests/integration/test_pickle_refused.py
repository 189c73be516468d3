"""No jobsys process accepts pickle: a pickled task message, published straight to a
capability queue with kombu, is refused and logged by a real worker, nothing of it runs,
and the worker goes on serving the next valid job. Pickle appears only in this test.
"""

from __future__ import annotations

import os
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kombu import Producer
from sqlalchemy import text

from jobsys.celery import EXCHANGE, capability_queue
from jobsys.client import Client
from jobsys.lifecycle import JobState
from jobsys.runtime import Runtime
from jobsys.settings import Settings
from jobsys.testing import WorkerProcess, settings_from_env, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

StartWorker = Callable[..., WorkerProcess]
QUEUE = "demo.basic@1"


class MakesADirectory:
    """Unpickling this creates a directory: the side effect a pickle-accepting worker shows."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.path),))


def publish_pickled(client: Client, job_id: str, marker: Path) -> None:
    """A task message of protocol 2 for ``demo.echo`` whose body is a pickle.

    Sent on a connection of the client's app (the Redis transport's key separator and
    priority steps come from its transport options), but not through Celery's serializer.
    """
    body = pickle.dumps(((job_id, MakesADirectory(marker)), {}, {"callbacks": None}))
    headers = {"lang": "py", "task": "demo.echo", "id": job_id, "root_id": job_id}
    headers |= {"parent_id": None, "group": None, "retries": 0, "eta": None}
    with client.runtime.app.connection_for_write() as conn:
        Producer(conn).publish(
            body,
            exchange=EXCHANGE,
            routing_key=QUEUE,
            declare=[capability_queue(QUEUE)],
            headers=headers,
            content_type="application/x-python-serialize",
            content_encoding="binary",
        )


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, jobsys_env: dict[str, str]) -> dict[str, str]:
    """The settings of a run on Redis, or on a RabbitMQ virtual host of the test's own."""
    if request.param == "redis":
        return jobsys_env
    rabbitmq_url: str = request.getfixturevalue("rabbitmq_url")
    return {**jobsys_env, "JOBSYS_BROKER_URL": rabbitmq_url}


def test_a_pickled_message_is_refused_logged_and_not_run(
    broker: dict[str, str], start_worker: StartWorker, tmp_path: Path
) -> None:
    worker = start_worker([QUEUE], env=broker)
    job_id, marker = str(uuid.uuid4()), tmp_path / "unpickled"
    with Client(settings_from_env(broker)) as client:
        publish_pickled(client, job_id, marker)
        refused = "Refusing to deserialize untrusted content of type pickle"
        wait_until(lambda: refused in worker.log_path.read_text(), 30, message="the refusal")
        log = worker.log_path.read_text()
        assert "Received invalid task message" in log and job_id in log
        assert not marker.exists()

        with client.runtime.engine.connect() as conn:
            for table in ("jobs", "job_runs"):
                column = "id" if table == "jobs" else "job_id"
                count = conn.execute(
                    text(f"SELECT count(*) FROM {table} WHERE {column} = :id"), {"id": job_id}
                ).scalar()
                assert count == 0, table
        # The worker is still there, and serves the next (JSON) job.
        valid = client.submit("demo.echo", {"message": "after the pickle"})
        assert valid.wait(30) == JobState.COMPLETED
    assert worker.alive()
    assert not marker.exists()


def test_every_celery_app_jobsys_builds_accepts_json_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers, beat and the client build their app through ``Runtime.app``; Flower and
    ``celery -A jobsys`` use the lazy ``jobsys.celery.app``."""
    import jobsys.celery

    def json_only(conf: Any) -> None:
        assert conf.accept_content == ["json"]
        assert conf.result_accept_content == ["json"]
        for key in ("task_serializer", "result_serializer", "event_serializer"):
            assert getattr(conf, key) == "json", key

    brokers = ["redis://127.0.0.1:6379/15", "amqp://guest:guest@127.0.0.1:5672//", None]
    for broker_url in brokers:
        runtime = Runtime(Settings(home=tmp_path / "home", broker_url=broker_url))
        json_only(runtime.app.conf)
        runtime.close()
    with Client(Settings(home=tmp_path / "client")) as client:
        json_only(client.runtime.app.conf)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOBSYS_HOME", str(tmp_path / "flower"))
    cached = jobsys.celery.__dict__.pop("app", None)
    lazy = jobsys.celery.app
    try:
        json_only(lazy.conf)
    finally:
        lazy.close()
        jobsys.celery.__dict__.pop("app", None)
        if cached is not None:
            jobsys.celery.__dict__["app"] = cached
