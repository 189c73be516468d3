"""Bad input is refused before anything is written or sent; history is append-only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis
import sqlalchemy as sa

from jobsys.client import Client
from jobsys.errors import InputError
from jobsys.lifecycle import JobState

pytestmark = pytest.mark.integration


def _jobs_count(client: Client) -> int:
    with client.runtime.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM jobs")).scalar_one())


def test_bad_inputs_are_rejected_before_enqueue_with_nothing_written(
    client: Client, redis_url: str
) -> None:
    r = redis.Redis.from_url(redis_url)
    before_rows, before_keys = _jobs_count(client), sorted(r.keys("*"))
    with pytest.raises(InputError, match="'times'") as caught:
        client.submit("demo.echo", message="hi", times="x")
    assert caught.value.field == "times"
    with pytest.raises(InputError, match="'message'"):
        client.submit_many("demo.echo", [{"message": "fine"}, {"times": 2}])
    assert _jobs_count(client) == before_rows
    assert sorted(r.keys("*")) == before_keys


def test_a_job_run_cannot_be_updated_in_postgresql(client: Client) -> None:
    job = client.submit("demo.render")
    client.cancel(job.id)
    with client.runtime.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO job_runs (id, job_id, attempt, job_type, params_snapshot, status,"
                " finished_at, artifacts) VALUES ('r1', :j, 1, 'demo.render', '{}', 'FAILED',"
                " now(), '{}')"
            ),
            {"j": job.id},
        )
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with client.runtime.engine.begin() as conn:
            conn.execute(sa.text("UPDATE job_runs SET status = 'COMPLETED' WHERE id = 'r1'"))
    assert [r.status for r in client.runs(job.id)] == ["FAILED"]
    assert client.status(job.id) == JobState.CANCELLED


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JOBSYS_BROKER_URL", "redis://127.0.0.1:1/0"),
        ("JOBSYS_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"),
    ],
)
def test_an_unreachable_service_is_one_line_naming_the_setting(
    jobsys_env: dict[str, str], variable: str, value: str
) -> None:
    env = {**os.environ, **jobsys_env, variable: value}
    ran = subprocess.run(
        [sys.executable, "-m", "jobsys", "submit", "jobsys.noop"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert ran.returncode == 3, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), ran.stderr
    assert variable in lines[0]
    assert "Traceback" not in ran.stderr
