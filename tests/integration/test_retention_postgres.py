"""``jobsys history prune --older-than 30d`` on a PostgreSQL store of 1,000,000 runs.

The store is built by the database (``INSERT … SELECT generate_series``) in a database of
the test's own: 400,000 jobs aged 0..40 days in every state, 1 to 4 runs each (1,000,000
runs), 2,000 groups of 10 jobs (ended, partial, cancelled and still running), sink figures
and callback deliveries. The counts left are computed in Python from the same formulas.
While the CLI prunes, a thread keeps reading the jobs view's queries and records its
slowest answer; after it, a remaining run still refuses an UPDATE.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from jobsys.store import queries
from jobsys.store.retention import callbacks, groups, jobs, prune, runs, sink_stats
from jobsys.testing import postgres_database, wait_until

pytestmark = pytest.mark.integration

N_JOBS = 400_000
GROUPED = 20_000  # jobs 0..19,999 are in 2,000 groups of 10
GROUP_SIZE = 10
AGES = 41  # a job's age in days: 0..40; 30 or more (a quarter of them) is past the cutoff
RETENTION_DAYS = 30
#: job status by ``i % 20``: mostly COMPLETED, some FAILED, ended otherwise, or still going
STATUS = ["COMPLETED"] * 13 + ["FAILED"] * 2 + ["CANCELLED", "SKIPPED", "COMPLETED_WITH_WARNINGS"]
STATUS += ["RUNNING", "QUEUED"]
ENDED = set(STATUS) - {"RUNNING", "QUEUED"}
#: a group's kind by ``g % 4``: its jobs' statuses (all but the last, the last) and its own
GROUP_KINDS = [
    ("COMPLETED", "COMPLETED", "COMPLETED"),
    ("COMPLETED", "FAILED", "PARTIAL"),
    ("COMPLETED", "RUNNING", "RUNNING"),
    ("CANCELLED", "CANCELLED", "CANCELLED"),
]


def _sql_list(values: list[str], index: str) -> str:
    return f"(ARRAY[{', '.join(repr(v) for v in values)}])[{index} + 1]"


def _kind(column: int) -> str:
    return _sql_list([k[column] for k in GROUP_KINDS], "(i / 10) % 4")


BUILD = [
    # Groups: g's age is g % 41 days; it is as old as its jobs.
    f"""
    INSERT INTO job_groups (id, name, mode, status, created_at, started_at, finished_at,
                            updated_at)
    SELECT md5('group' || g)::uuid::text, 'run ' || g, 'parallel',
           {_sql_list([k[2] for k in GROUP_KINDS], "g % 4")},
           t - interval '5 minutes', t - interval '5 minutes',
           CASE WHEN g % 4 = 2 THEN NULL ELSE t END, t
    FROM generate_series(0, {GROUPED // GROUP_SIZE - 1}) AS g,
         LATERAL (SELECT :now - (g % {AGES}) * interval '1 day' - interval '1 hour' AS t) AS at
    """,
    # Jobs: i's age is (its group's number, else i) % 41 days; its status by i % 20 (or by
    # its group's kind); 1 + i % 4 attempts recorded (a RUNNING job is in one more; a QUEUED
    # one waits for its retry).
    f"""
    INSERT INTO jobs (id, group_id, job_type, job_type_version, capability, params, priority,
                      position, status, attempt, max_attempts, created_at, queued_at,
                      started_at, finished_at, updated_at, items_processed, items_failed,
                      error)
    SELECT md5('job' || i)::uuid::text,
           CASE WHEN i < {GROUPED} THEN md5('group' || (i / 10))::uuid::text END,
           'data.parse', 1, 'data.parse@1', jsonb_build_object('path', '/data/f' || i), 5,
           CASE WHEN i < {GROUPED} THEN i % 10 END, s.status,
           1 + i % 4 + CASE WHEN s.status = 'RUNNING' THEN 1 ELSE 0 END, 5,
           t - interval '5 minutes', t - interval '5 minutes', t - interval '1 minute',
           CASE WHEN s.status IN ('RUNNING', 'QUEUED') THEN NULL ELSE t END, t, 100, 0,
           CASE WHEN s.status = 'FAILED' THEN 'SchemaViolation at row 42' END
    FROM generate_series(0, {N_JOBS - 1}) AS i,
         LATERAL (SELECT :now - ((CASE WHEN i < {GROUPED} THEN i / 10 ELSE i END) % {AGES})
                         * interval '1 day' - interval '1 hour' AS t) AS at,
         LATERAL (SELECT CASE
                    WHEN i >= {GROUPED} THEN {_sql_list(STATUS, "i % 20")}
                    WHEN i % 10 = 9 THEN {_kind(1)}
                    ELSE {_kind(0)} END AS status) AS s
    """,
    """
    INSERT INTO job_runs (id, job_id, attempt, job_type, params_snapshot, status, started_at,
                          finished_at, duration_ms, worker_id, error, artifacts)
    SELECT md5('run' || j.id || a)::uuid::text, j.id, a, j.job_type, j.params,
           CASE WHEN a < j.attempt OR j.status IN ('RUNNING', 'QUEUED') THEN 'FAILED'
                ELSE j.status END,
           j.started_at, j.updated_at, 60000, 'worker-1:100',
           CASE WHEN a < j.attempt THEN 'timeout' END, '{}'::jsonb
    FROM jobs AS j, generate_series(1, 4) AS a
    WHERE a <= j.attempt - CASE WHEN j.status = 'RUNNING' THEN 1 ELSE 0 END
    """,
    # Sink figures: two flushes of every 50th job.
    f"""
    INSERT INTO sink_stats (job_id, sink_uri, output, recorded_at, rows, bytes, writes,
                            error_count, write_latency_ms, max_latency_ms)
    SELECT md5('job' || i)::uuid::text, 'parquet:///data/out', 'trades', :now, 100, 4096, 1,
           0, 1.5, 2.0
    FROM generate_series(0, {N_JOBS - 1}, 50) AS i, generate_series(1, 2) AS flush
    """,
    # A callback delivery for every other group.
    f"""
    INSERT INTO callback_deliveries (id, group_id, event, kind, target, spec, status, attempts,
                                     created_at, updated_at)
    SELECT md5('callback' || g)::uuid::text, md5('group' || g)::uuid::text, 'completed', 'url',
           'http://127.0.0.1:1/hook', '{{}}'::jsonb, 'DELIVERED', 1, :now, :now
    FROM generate_series(0, {GROUPED // GROUP_SIZE - 1}, 2) AS g
    """,
]


@dataclass(frozen=True)
class Expected:
    """The rows a prune of everything older than 30 days leaves, from the formulas above."""

    jobs: int
    runs: int
    groups: int
    sink_stats: int
    callbacks: int
    open_jobs: int


def expected_after_prune() -> Expected:
    status_of: dict[int, str] = {}
    kept_groups = set()
    for g in range(GROUPED // GROUP_SIZE):
        member, last, status = GROUP_KINDS[g % 4]
        if status == "RUNNING" or g % AGES < RETENTION_DAYS:
            kept_groups.add(g)
    left: Counter[str] = Counter()
    for i in range(N_JOBS):
        if i < GROUPED:
            member, last, _ = GROUP_KINDS[(i // 10) % 4]
            status_of[i] = last if i % 10 == 9 else member
            keep = i // 10 in kept_groups
        else:
            status_of[i] = STATUS[i % 20]
            keep = status_of[i] not in ENDED or i % AGES < RETENTION_DAYS
        if keep:
            left["jobs"] += 1
            left["runs"] += 1 + i % 4
            left["sink_stats"] += 2 if i % 50 == 0 else 0
            left["open"] += status_of[i] not in ENDED
    return Expected(
        jobs=left["jobs"],
        runs=left["runs"],
        groups=len(kept_groups),
        sink_stats=left["sink_stats"],
        callbacks=sum(1 for g in kept_groups if g % 2 == 0),
        open_jobs=left["open"],
    )


def bulk_insert(conn: Connection, statement: str, now: datetime) -> None:
    """Run one ``INSERT INTO <table> SELECT …`` as bulk loads go: the table's indexes, and
    its primary and unique keys that no foreign key needs, dropped and its triggers
    (foreign-key checks) off while it runs; then all put back as they were (read from the
    catalog first), so the store ends exactly as migrated, with every row checked."""
    table = statement.split("INSERT INTO", 1)[1].split()[0]
    keys = conn.execute(
        text(
            "SELECT k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
            "WHERE k.conrelid = CAST(:t AS regclass) AND k.contype IN ('p', 'u') AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = k.conrelid)"
        ),
        {"t": table},
    ).all()
    indexes = conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        ),
        {"t": table},
    ).all()
    for name, _ in keys:
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
    conn.execute(text(statement), {"now": now})
    conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))
    for name, definition in keys:
        conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
    for _, definition in indexes:
        conn.execute(text(definition))


@pytest.fixture
def store(pg_url: str) -> Iterator[tuple[str, Engine]]:
    """A migrated database of this test's own, holding the 1,000,000-run history."""
    with postgres_database(f"jobsys_retention_{uuid.uuid4().hex[:10]}") as url:
        engine = create_engine(url)
        now = datetime.now(UTC).replace(tzinfo=None)
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
            for statement in BUILD:
                bulk_insert(conn, statement, now)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        try:
            yield url, engine
        finally:
            engine.dispose()


def count(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (jobs, runs, groups, sink_stats, callbacks)
        }


class Reader(threading.Thread):
    """Asks what the jobs view and ``GET /v1/jobs`` ask, again and again; keeps the slowest.

    Its connections have ``lock_timeout = 1s``: waiting that long for any lock the prune
    holds is an error, whatever the machine's load makes of the latencies.
    """

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(url, connect_args={"options": "-c lock_timeout=1000"})
        self.done = threading.Event()
        self.latencies: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.done.is_set():
                started = time.monotonic()
                with self.engine.connect() as conn:
                    assert len(queries.list_jobs(conn, limit=50)) == 50
                    assert queries.jobs_by_status(conn)
                    queries.jobs_changed_since(conn, None, limit=200)
                self.latencies.append(time.monotonic() - started)
                # A view polls; it does not spin. (Spinning on two cores would measure the
                # CPU the reader takes from the prune, not whether the prune blocks it.)
                self.done.wait(0.25)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.engine.dispose()


@pytest.mark.slow
@pytest.mark.timeout(300)  # the store alone takes 15-30 s to build on two busy cores
def test_prune_of_a_million_runs_leaves_exactly_the_rest_and_never_blocks_the_view(
    store: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = store
    before = count(engine)
    assert before["job_runs"] == 1_000_000 and before["jobs"] == N_JOBS
    expected = expected_after_prune()

    reader = Reader(url)
    reader.start()
    wait_until(lambda: len(reader.latencies) >= 3, 30, message="the reader's first answers")
    baseline = max(reader.latencies)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSYS_")}
    env.update(JOBSYS_DATABASE_URL=url, JOBSYS_HOME=str(tmp_path / "home"))
    started = time.monotonic()
    ran = subprocess.run(
        [sys.executable, "-m", "jobsys", "history", "prune", "--older-than", f"{RETENTION_DAYS}d"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    took = time.monotonic() - started
    reader.done.set()
    reader.join(30)

    assert ran.returncode == 0, ran.stderr
    removed = before["jobs"] - expected.jobs
    assert ran.stdout.startswith(f"removed {removed} jobs, {1_000_000 - expected.runs} runs")
    assert count(engine) == {
        "jobs": expected.jobs,
        "job_runs": expected.runs,
        "job_groups": expected.groups,
        "sink_stats": expected.sink_stats,
        "callback_deliveries": expected.callbacks,
    }
    with engine.connect() as conn:
        still_open = conn.execute(
            select(func.count()).where(jobs.c.status.in_(["RUNNING", "QUEUED"]))
        ).scalar_one()
        remaining = conn.execute(select(runs.c.id).limit(1)).scalar_one()
    assert still_open == expected.open_jobs  # no job still going was touched
    assert reader.error is None, reader.error
    slowest = max(reader.latencies)
    print(
        f"\npruned {removed:,} jobs / {1_000_000 - expected.runs:,} runs in {took:.1f} s; "
        f"reader: {len(reader.latencies)} answers, slowest {slowest * 1000:.0f} ms "
        f"(before the prune {baseline * 1000:.0f} ms)\n{ran.stdout}"
    )
    # Generous: 2 s, or five times its slowest answer before the prune on a busy machine.
    assert len(reader.latencies) > 10 and slowest < max(2.0, 5 * baseline)

    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(runs.update().where(runs.c.id == remaining).values(status="FAILED"))
    again = prune(engine, datetime.now(UTC) - timedelta(days=RETENTION_DAYS))
    assert (again.jobs, again.runs, again.groups) == (0, 0, 0)


def _old_job(conn: Connection, at: datetime, group: str | None = None) -> str:
    job_id = str(uuid.uuid4())
    conn.execute(
        jobs.insert().values(
            id=job_id,
            group_id=group,
            job_type="demo.echo",
            capability="demo.basic@1",
            status="COMPLETED",
            params={},
            attempt=1,
            created_at=at,
            finished_at=at,
            updated_at=at,
        )
    )
    conn.execute(
        runs.insert().values(
            id=str(uuid.uuid4()),
            job_id=job_id,
            attempt=1,
            job_type="demo.echo",
            params_snapshot={},
            status="COMPLETED",
            finished_at=at,
            artifacts={},
        )
    )
    return job_id


def test_rows_another_transaction_holds_are_skipped_not_waited_for(pg_url: str) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    with postgres_database(f"jobsys_retention_{uuid.uuid4().hex[:10]}") as url:
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                lone = [_old_job(conn, old) for _ in range(5)]
                group = str(uuid.uuid4())
                conn.execute(
                    groups.insert().values(
                        id=group, mode="parallel", status="COMPLETED", created_at=old,
                        finished_at=old, updated_at=old,
                    )
                )  # fmt: skip
                members = [_old_job(conn, old, group) for _ in range(3)]
            cutoff = datetime.now(UTC) - timedelta(days=30)
            with engine.connect() as holder:  # a retry holding one lone job and one member
                holder.execute(
                    select(jobs.c.id).where(jobs.c.id.in_([lone[2], members[1]])).with_for_update()
                )
                started = time.monotonic()
                report = prune(engine, cutoff, batch_size=2)
                took = time.monotonic() - started
                holder.rollback()
            assert took < 5  # no wait for the holder's locks
            assert (report.jobs, report.groups) == (4, 0)
            with engine.connect() as conn:
                left = set(conn.execute(select(jobs.c.id)).scalars())
            assert left == {lone[2], *members}  # the held job, and its group whole
            again = prune(engine, cutoff, batch_size=2)
            assert (again.jobs, again.runs, again.groups) == (4, 4, 1)
        finally:
            engine.dispose()
