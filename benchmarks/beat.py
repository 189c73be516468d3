"""Beat benchmark: many every-minute schedules fired by two real ``jobsys beat`` processes.

1,000 enabled ``* * * * *`` schedules (a one-step ``jobsys.noop`` template) on a fresh
PostgreSQL database and a reserved Redis database; two beats run for three minutes (no
worker: a firing is done when its run and job are in the store and its canvas is on the
broker). For the three minute instants after both beats are ready it prints firings
expected vs seen, ``missed: N`` and ``doubled: N`` (both must be 0), lateness p50/p99
(scheduled instant -> run and job created) and each beat's CPU seconds per minute.

    python benchmarks/beat.py [--schedules 1000] [--minutes 3] [--beats 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobsys.client import Client  # noqa: E402
from jobsys.settings import Settings  # noqa: E402
from jobsys.testing import BeatProcess, postgres_database, wait_until  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "jobsys_bench_beat"
REDIS = "redis://127.0.0.1:6379"
#: the databases and marker key the test fixtures reserve (tests/conftest.py): share politely
REDIS_DBS = range(9, 16)
REDIS_MARKER = "jobsys:test-session"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


@contextmanager
def reserved_redis() -> Iterator[str]:
    """A Redis database reserved like a test session's, flushed and released afterwards."""
    token = uuid.uuid4().hex
    for number in REDIS_DBS:
        with redis.Redis.from_url(f"{REDIS}/{number}") as conn:
            if conn.set(REDIS_MARKER, token, nx=True, ex=3600):
                break
    else:
        raise SystemExit(f"every Redis database {REDIS_DBS} is reserved by a test session")
    try:
        yield f"{REDIS}/{number}"
    finally:
        with redis.Redis.from_url(f"{REDIS}/{number}") as conn:
            if conn.get(REDIS_MARKER) == token.encode():
                conn.flushdb()


def minute_after(t: datetime) -> datetime:
    """The first whole minute strictly after ``t``."""
    return t.replace(second=0, microsecond=0) + timedelta(minutes=1)


def run(args: argparse.Namespace, broker: str, db_url: str, home: Path) -> int:
    env = {
        "JOBSYS_BROKER_URL": broker,
        "JOBSYS_DATABASE_URL": db_url,
        "JOBSYS_HOME": str(home),
        "JOBSYS_BEAT_MAX_LOOP_INTERVAL": "1",
    }
    settings = Settings(broker_url=broker, database_url=db_url, home=home)
    with Client(settings) as client:
        client.create_template("bench-noop", "jobsys.noop", {})
        t0 = time.perf_counter()
        ids = [
            client.create_schedule(f"bench-{i:05d}", "bench-noop", cron="* * * * *").id
            for i in range(args.schedules)
        ]
        print(f"created {len(ids)} schedules in {time.perf_counter() - t0:.1f} s", flush=True)
        beats = [BeatProcess(env, log_dir=home / "beats") for _ in range(args.beats)]
        try:
            for beat in beats:
                beat.wait_ready()
            first = minute_after(datetime.now(UTC) + timedelta(seconds=2))
            instants = [first + timedelta(minutes=i) for i in range(args.minutes)]
            started = time.monotonic()
            cpu0 = [cpu_seconds(b.pid) for b in beats]
            print(f"measuring instants {instants[0]:%H:%M} .. {instants[-1]:%H:%M} UTC", flush=True)
            end = instants[-1] + timedelta(seconds=args.settle)
            wait_until(lambda: datetime.now(UTC) >= end, (end - datetime.now(UTC)).seconds + 60, 1)
            cpu = [cpu_seconds(b.pid) - c for b, c in zip(beats, cpu0, strict=True)]
            minutes = (time.monotonic() - started) / 60
        finally:
            for beat in beats:
                beat.kill()
        query = sa.text(
            "SELECT g.schedule_id, g.scheduled_for, j.created_at FROM job_groups g "
            "JOIN jobs j ON j.group_id = g.id "
            "WHERE g.schedule_id IS NOT NULL AND g.scheduled_for >= :lo AND g.scheduled_for <= :hi"
        )
        lo, hi = instants[0].replace(tzinfo=None), instants[-1].replace(tzinfo=None)
        with client.runtime.engine.connect() as conn:
            rows = conn.execute(query, {"lo": lo, "hi": hi}).all()
        per_firing = Counter((r.schedule_id, r.scheduled_for) for r in rows)
        expected = len(ids) * len(instants)
        distinct = len(per_firing)
        doubled = sum(n - 1 for n in per_firing.values())
        lateness = [(r.created_at - r.scheduled_for).total_seconds() for r in rows]
        fired_by = [
            (
                b.log_path.read_text(errors="replace").count(" fired for ")
                if b.log_path.exists()
                else 0
            )
            for b in beats
        ]
    print(
        f"{args.schedules} schedules every minute, {args.beats} beat processes, "
        f"{len(instants)} instants"
    )
    print(f"firings expected: {expected}, seen: {len(rows)}")
    print(f"missed: {expected - distinct}")
    print(f"doubled: {doubled}")
    if lateness:
        print(
            f"lateness p50 {percentile(lateness, 50) * 1000:.0f} ms, "
            f"p99 {percentile(lateness, 99) * 1000:.0f} ms, max {max(lateness) * 1000:.0f} ms"
        )
    for i, (c, n) in enumerate(zip(cpu, fired_by, strict=True)):
        print(f"beat {i + 1}: {c / minutes:.2f} CPU s per minute, fired {n} (whole run)")
    met = expected == distinct and doubled == 0 and lateness and percentile(lateness, 99) <= 1.0
    print(f"target (p99 <= 1 s, 0 missed, 0 doubled): {'target met' if met else 'target missed'}")
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        times = p.cpu_times()
        total += times.user + times.system
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=3)
    parser.add_argument("--beats", type=int, default=2)
    parser.add_argument("--settle", type=int, default=20, help="seconds after the last instant")
    args = parser.parse_args()
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"jobsys-bench-beat-{os.getpid()}"
    home.mkdir(parents=True, exist_ok=True)
    with reserved_redis() as broker, postgres_database(PG_DB, PG_ADMIN) as db_url:
        return run(args, broker, db_url, home)


if __name__ == "__main__":
    sys.exit(main())
