"""Jobs view benchmark: 100,000 jobs and 1,000,000 JobRuns, in SQLite and in PostgreSQL.

For each store, prints the poll time p50/p99 — the ``jobs_changed_since`` query alone and a
whole ``Poller.poll()`` (changed rows; the status counts at most every 2 s) and the counting
alone —
while a writer changes 20 jobs between polls as workers would; the time to draw the list
(200 entries, 160x48) and to render one full frame; and the view process's RSS.
Targets (issue 7): poll <= 20 ms p99, frame <= 50 ms, view memory < 200 MB.

    python benchmarks/ui.py [--jobs 100000] [--runs-per-job 10] [--polls 200] [--only sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobsys.client import Client  # noqa: E402
from jobsys.settings import Settings  # noqa: E402
from jobsys.store import queries  # noqa: E402
from jobsys.testing import postgres_database  # noqa: E402
from jobsys.tui.app import JobsApp  # noqa: E402
from jobsys.tui.poller import Poller  # noqa: E402
from jobsys.tui.screens.jobs import JobsScreen  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = f"jobsys_bench_ui_{uuid.uuid4().hex[:8]}"
TYPES = ["data.parse", "data.scan", "data.export", "data.backtest", "demo.echo"]
JOB_COLUMNS = (
    "id, job_type, job_type_version, capability, params, priority, status, attempt, "
    "max_attempts, created_at, started_at, finished_at, updated_at, items_processed, "
    "items_total, items_failed, output_path, output_size_bytes, error"
)
RUN_COLUMNS = (
    "id, job_id, attempt, job_type, params_snapshot, status, finished_at, duration_ms, artifacts"
)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))]


def job_rows(n: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Jobs: 1% failed, 1% running, 2% queued, the rest completed; older as the id grows."""
    rng = random.Random(7)
    for i in range(n):
        kind = TYPES[i % len(TYPES)]
        roll = rng.random()
        status = (
            "FAILED"
            if roll < 0.01
            else "RUNNING"
            if roll < 0.02
            else "QUEUED"
            if roll < 0.04
            else "COMPLETED"
        )
        when = now - timedelta(seconds=n - i)
        done = status in ("FAILED", "COMPLETED")
        yield (
            str(uuid.UUID(int=i + 1)),
            kind,
            1,
            kind + "@1",
            json.dumps({"path": f"/data/f{i}.log"}),
            5,
            status,
            1,
            3,
            when,
            when,
            when if done else None,
            when,
            50,
            100,
            1 if status == "FAILED" else 0,
            f"/out/{i}" if status == "COMPLETED" else None,
            1000 if status == "COMPLETED" else None,
            "boom" if status == "FAILED" else None,
        )


def run_rows(n_jobs: int, per_job: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """``per_job`` attempts of every job."""
    for i in range(n_jobs):
        job_id = str(uuid.UUID(int=i + 1))
        kind = TYPES[i % len(TYPES)]
        for a in range(1, per_job + 1):
            yield (
                str(uuid.UUID(int=(i + 1) << 16 | a)),
                job_id,
                a,
                kind,
                "{}",
                "FAILED" if a < per_job else "COMPLETED",
                now,
                100 + a,
                "{}",
            )


def batched(rows: Iterator[tuple[Any, ...]], size: int = 20_000) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(engine: Engine, n_jobs: int, per_job: int) -> float:
    """Insert the rows (COPY on PostgreSQL, executemany on SQLite); seconds taken."""
    started, now = time.perf_counter(), datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            for table, cols, rows in (
                ("jobs", JOB_COLUMNS, job_rows(n_jobs, now)),
                ("job_runs", RUN_COLUMNS, run_rows(n_jobs, per_job, now)),
            ):
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row(row)
        else:

            def naive(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
                for r in rows:  # the store keeps naive UTC in SQLite
                    yield tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in r)

            for table, cols, rows in (
                ("jobs", JOB_COLUMNS, job_rows(n_jobs, now)),
                ("job_runs", RUN_COLUMNS, run_rows(n_jobs, per_job, now)),
            ):
                marks = ", ".join("?" * len(cols.split(", ")))
                for batch in batched(naive(rows)):
                    cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", batch)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def touch(engine: Engine, ids: list[str]) -> None:
    """What workers do between two polls: progress on some jobs."""
    with engine.begin() as conn:
        conn.execute(
            update(queries.jobs)
            .where(queries.jobs.c.id.in_(ids))
            .values(
                items_processed=queries.jobs.c.items_processed + 1, updated_at=datetime.now(UTC)
            )
        )


def bench_polls(engine: Engine, settings: Settings, polls: int) -> dict[str, float]:
    """Poll p50/p99 with 20 jobs changed before each poll."""
    poller = Poller(lambda: engine, settings)
    poller.poll()  # the first, full read (the view's start)
    running = [str(uuid.UUID(int=i + 1)) for i in range(0, 100_000, 97)][:2000]
    rng = random.Random(3)
    query_ms, poll_ms = [], []
    since = datetime.now(UTC)
    for _ in range(polls):
        touch(engine, rng.sample(running, 20))
        t0 = time.perf_counter()
        with engine.connect() as conn:
            rows = queries.jobs_changed_since(conn, since)
        query_ms.append((time.perf_counter() - t0) * 1000)
        since = max((r.updated_at for r in rows), default=since)
        poll_ms.append(poller.poll().poll_ms)
    count_ms = []
    for _ in range(20):  # the status line's counting, at most every 2 s in the view
        t0 = time.perf_counter()
        with engine.connect() as conn:
            queries.jobs_by_status(conn)
            queries.job_totals(conn)
        count_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "count_p50": percentile(count_ms, 50),
        "count_p99": percentile(count_ms, 99),
        "query_p50": percentile(query_ms, 50),
        "query_p99": percentile(query_ms, 99),
        "poll_p50": percentile(poll_ms, 50),
        "poll_p99": percentile(poll_ms, 99),
    }


async def bench_frame(client: Client) -> dict[str, float]:
    """Draw the list (200 entries) and render whole frames at 160x48; RSS after."""
    app = JobsApp(client, poll_interval=3600, waiting=frozenset)
    fill_ms, frame_ms = [], []
    async with app.run_test(size=(160, 48)) as pilot:
        while app.snapshot is None:
            await pilot.pause(0.05)
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        for _ in range(20):
            t0 = time.perf_counter()
            screen.show_snapshot(app.snapshot, force=True)
            fill_ms.append((time.perf_counter() - t0) * 1000)
            await pilot.pause()
            t0 = time.perf_counter()
            app.console.file = io.StringIO()
            screen._compositor.render_update(full=True)  # one whole frame, as Textual draws it
            frame_ms.append((time.perf_counter() - t0) * 1000)
        gc.collect()
        rss = psutil.Process().memory_info().rss / 1e6
        held = len(app.snapshot.jobs)
    return {
        "list_p50": percentile(fill_ms, 50),
        "list_p99": percentile(fill_ms, 99),
        "frame_p50": percentile(frame_ms, 50),
        "frame_p99": percentile(frame_ms, 99),
        "rss_mb": rss,
        "held": held,
    }


def bench(label: str, settings: Settings, args: argparse.Namespace) -> None:
    with Client(settings) as client:
        engine = client.runtime.engine
        took = fill(engine, args.jobs, args.runs_per_job)
        gc.collect()
        print(
            f"[{label}] filled {args.jobs:,} jobs, {args.jobs * args.runs_per_job:,} runs "
            f"in {took:.0f} s",
            flush=True,
        )
        p = bench_polls(engine, settings, args.polls)
        print(
            f"[{label}] poll query (jobs_changed_since): p50 {p['query_p50']:.2f} ms, "
            f"p99 {p['query_p99']:.2f} ms",
            flush=True,
        )
        print(
            f"[{label}] whole poll (status counts at most every 2 s): p50 {p['poll_p50']:.2f} ms, "
            f"p99 {p['poll_p99']:.2f} ms",
            flush=True,
        )
        print(
            f"[{label}] counting every job (status line): p50 {p['count_p50']:.1f} ms, "
            f"p99 {p['count_p99']:.1f} ms",
            flush=True,
        )
        f = asyncio.run(bench_frame(client))
        print(
            f"[{label}] list redraw (200 entries): p50 {f['list_p50']:.1f} ms, "
            f"p99 {f['list_p99']:.1f} ms; one full frame 160x48: p50 {f['frame_p50']:.1f} ms, "
            f"p99 {f['frame_p99']:.1f} ms",
            flush=True,
        )
        print(
            f"[{label}] RSS of this process with the view open ({f['held']:,} jobs held): "
            f"{f['rss_mb']:.0f} MB",
            flush=True,
        )
        drawn = {q: f[f"list_p{q}"] + f[f"frame_p{q}"] for q in (50, 99)}
        for q in (50, 99):
            met = p["query_p99"] <= 20 and drawn[q] <= 50 and f["rss_mb"] < 200
            print(
                f"[{label}] targets (poll query p99 <= 20 ms, list redraw + frame p{q} "
                f"{drawn[q]:.1f} ms <= 50 ms, RSS < 200 MB): {'met' if met else 'missed'}",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs-per-job", type=int, default=10)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as home:
            bench("sqlite", Settings(home=Path(home)), args)
    if args.only != "sqlite":
        with postgres_database(PG_DB, PG_ADMIN) as url:
            bench("postgresql", Settings(home=Path(tempfile.mkdtemp()), database_url=url), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
