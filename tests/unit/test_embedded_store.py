"""The embedded default (SQLite + filesystem broker under ``home``), with no worker running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from jobsys import Client, JobState
from jobsys.errors import InputError, InvalidTransition, NotFound, UnknownJobType, WaitTimeout
from jobsys.settings import Settings
from jobsys.store.models import JobRun, new_id, utcnow

RUNS = cast(Table, JobRun.__table__)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(Settings(home=tmp_path / "home")) as c:
        yield c


def queued_messages(client: Client) -> list[Path]:
    folder = client.settings.resolved_home / "broker" / "queue"
    return sorted(folder.glob("*")) if folder.is_dir() else []


def nothing_written(client: Client) -> bool:
    return client.jobs() == [] and queued_messages(client) == []


def test_the_store_is_created_under_home_in_wal_mode(client: Client, tmp_path: Path) -> None:
    assert client.jobs() == []
    assert (tmp_path / "home" / "jobsys.db").is_file()
    with client.runtime.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_a_submitted_job_waits_queued_with_its_validated_inputs(client: Client) -> None:
    handle = client.submit("demo.echo", message="hi", times="3")
    assert handle.status() is JobState.QUEUED
    job = client.job(handle.id)
    assert (job.job_type, job.capability, job.status) == ("demo.echo", "demo.basic@1", "QUEUED")
    assert job.params == {"message": "hi", "times": 3}
    assert job.attempt == 0 and job.max_attempts == 3
    assert handle.runs() == []
    assert len(queued_messages(client)) == 1


def test_submit_many_enqueues_a_batch(client: Client) -> None:
    handles = client.submit_many("jobsys.noop", [{}] * 5, priority=9)
    assert len({h.id for h in handles}) == 5
    assert {client.job(h.id).priority for h in handles} == {9}
    assert {h.status() for h in handles} == {JobState.QUEUED}
    assert len(queued_messages(client)) == 5


def test_bad_inputs_write_and_send_nothing(client: Client) -> None:
    with pytest.raises(InputError) as info:
        client.submit("demo.echo", message="hi", times="x")
    assert info.value.field == "times"
    assert nothing_written(client)


def test_one_bad_item_in_a_batch_writes_and_sends_nothing(client: Client) -> None:
    items: list[dict[str, Any]] = [
        {"message": "a"},
        {"message": "b", "times": -1},
        {"message": "c"},
    ]
    with pytest.raises(InputError, match="'times'"):
        client.submit_many("demo.echo", items)
    assert nothing_written(client)


def test_an_unknown_job_type_writes_and_sends_nothing(client: Client) -> None:
    with pytest.raises(UnknownJobType, match="'nope'"):
        client.submit("nope", x=1)
    assert nothing_written(client)


def test_an_unknown_job_id_is_not_found(client: Client) -> None:
    with pytest.raises(NotFound, match="no job 'missing'"):
        client.job("missing")
    with pytest.raises(NotFound):
        client.status("missing")
    with pytest.raises(NotFound):
        client.resolve("0000")


def test_a_job_is_found_by_a_unique_prefix(client: Client) -> None:
    handle = client.submit("jobsys.noop")
    assert client.resolve(handle.id[:8]) == handle.id


def test_waiting_for_a_job_nobody_serves_times_out(client: Client) -> None:
    handle = client.submit("jobsys.noop")
    with pytest.raises(WaitTimeout, match=f"job {handle.id} still QUEUED after 0.2s"):
        handle.wait(0.2)


def test_a_queued_job_can_be_cancelled_once_then_retried(client: Client) -> None:
    handle = client.submit("jobsys.noop")
    assert client.cancel(handle.id) is JobState.QUEUED  # the state it was in
    assert handle.status() is JobState.CANCELLED
    assert client.job(handle.id).cancel_requested_at is not None
    with pytest.raises(InvalidTransition, match="CANCELLED to CANCELLED"):
        client.cancel(handle.id)
    client.retry(handle.id)
    assert handle.status() is JobState.QUEUED
    with pytest.raises(InvalidTransition, match="QUEUED to QUEUED"):
        client.retry(handle.id)


def run_values(job_id: str) -> dict[str, Any]:
    return {
        "id": new_id(),
        "job_id": job_id,
        "attempt": 1,
        "job_type": "jobsys.noop",
        "status": "FAILED",
        "finished_at": utcnow(),
        "params_snapshot": {},
        "artifacts": {},
    }


def test_the_database_refuses_to_update_a_job_run(client: Client) -> None:
    job_id = client.submit("jobsys.noop").id
    with client.runtime.engine.begin() as conn:
        conn.execute(insert(RUNS).values(run_values(job_id)))
    with pytest.raises(DBAPIError, match="job_runs is append-only"):
        with client.runtime.engine.begin() as conn:
            conn.execute(update(RUNS).where(RUNS.c.job_id == job_id).values(status="COMPLETED"))
    assert [r.status for r in client.runs(job_id)] == ["FAILED"]


def test_the_orm_refuses_to_update_a_job_run(client: Client) -> None:
    job_id = client.submit("jobsys.noop").id
    with Session(client.runtime.engine) as session:
        session.add(JobRun(**run_values(job_id)))
        session.commit()
        run = session.scalars(select(JobRun).where(JobRun.job_id == job_id)).one()
        run.status = "COMPLETED"
        with pytest.raises(ValueError, match="append-only"):
            session.commit()
    assert [r.status for r in client.runs(job_id)] == ["FAILED"]
