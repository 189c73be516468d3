"""Dispatch benchmark: no-op jobs through jobsys vs the same no-op as a plain Celery task.

Both run in this one process's run, on Redis (broker) with a prefork worker of the same
concurrency, prefetch, acks_late and JSON settings; jobsys also persists every job and
every attempt in PostgreSQL. Prints throughput for each, ``ratio: <jobsys/celery>``, and
single-job submit→terminal latency p50/p99 for each.

    python benchmarks/dispatch.py [--jobs 10000] [--latency-samples 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobsys.client import Client  # noqa: E402
from jobsys.lifecycle import JobState  # noqa: E402
from jobsys.settings import Settings  # noqa: E402
from jobsys.testing import WorkerProcess, postgres_database, wait_until  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "jobsys_bench"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


@contextmanager
def plain_worker(env: dict[str, str], concurrency: int, log: Path) -> Iterator[None]:
    args = [sys.executable, "-m", "celery", "-A", "benchmarks._plain_celery", "worker"]
    args += ["-Q", "plain", "-c", str(concurrency), "-P", "prefork", "-l", "WARNING"]
    args += ["--without-mingle", "--without-gossip", "-n", f"plain-{os.getpid()}@localhost"]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args, env={**os.environ, **env}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def bench_celery(args: argparse.Namespace, broker: str, results: str, log: Path) -> dict[str, Any]:
    env = {"BENCH_BROKER_URL": broker, "BENCH_RESULT_URL": results}
    os.environ.update(env)
    from benchmarks._plain_celery import app, noop, noop_result

    counter = redis.Redis.from_url(results)
    counter.delete("bench:done")
    with plain_worker(env, args.concurrency, log):
        wait_until(lambda: app.control.ping(timeout=0.5), 60, 0.2, "the plain Celery worker")
        noop_result.apply_async().get(timeout=30)  # warm up
        start = time.perf_counter()
        with app.producer_or_acquire() as producer:
            for _ in range(args.jobs):
                noop.apply_async(producer=producer)
        wait_until(lambda: int(counter.get("bench:done") or 0) >= args.jobs, 600, 0.01)
        elapsed = time.perf_counter() - start
        latencies = []
        for _ in range(args.latency_samples):
            t0 = time.perf_counter()
            noop_result.apply_async().get(timeout=30)
            latencies.append((time.perf_counter() - t0) * 1000)
    return {"elapsed": elapsed, "rate": args.jobs / elapsed, "latencies": latencies}


def bench_jobsys(args: argparse.Namespace, broker: str, db_url: str, home: Path) -> dict[str, Any]:
    env = {
        "JOBSYS_BROKER_URL": broker,
        "JOBSYS_DATABASE_URL": db_url,
        "JOBSYS_HOME": str(home),
        "JOBSYS_WORKER_PREFETCH": "1",
    }
    settings = Settings(broker_url=broker, database_url=db_url, home=home)
    with Client(settings) as client:
        worker = WorkerProcess(
            env, ["jobsys.noop@1"], concurrency=args.concurrency, log_dir=home / "logs"
        )
        try:
            worker.wait_ready(lambda name: bool(client.runtime.app.control.ping([name], 0.5)))
            client.submit("jobsys.noop").wait(30)  # warm up
            done = sa.text("SELECT count(*) FROM jobs WHERE status = 'COMPLETED'")
            with client.runtime.engine.connect() as conn:
                base = int(conn.execute(done).scalar_one())
            start = time.perf_counter()
            batch = 1000
            for offset in range(0, args.jobs, batch):
                client.submit_many("jobsys.noop", [{}] * min(batch, args.jobs - offset))

            def finished() -> bool:
                with client.runtime.engine.connect() as conn:
                    return int(conn.execute(done).scalar_one()) - base >= args.jobs

            wait_until(finished, 900, 0.05, "every jobsys job to complete")
            elapsed = time.perf_counter() - start
            latencies = []
            for _ in range(args.latency_samples):
                t0 = time.perf_counter()
                handle = client.submit("jobsys.noop")
                while client.status(handle.id) != JobState.COMPLETED:
                    time.sleep(0.0002)
                latencies.append((time.perf_counter() - t0) * 1000)
        finally:
            worker.stop()
    return {"elapsed": elapsed, "rate": args.jobs / elapsed, "latencies": latencies}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--redis-db", type=int, default=14)
    args = parser.parse_args()

    broker = f"redis://127.0.0.1:6379/{args.redis_db}"
    results = f"redis://127.0.0.1:6379/{args.redis_db + 1}"
    for url in (broker, results):
        redis.Redis.from_url(url).flushdb()
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"jobsys-bench-{os.getpid()}"
    home.mkdir(parents=True, exist_ok=True)
    print(
        f"{args.jobs} no-op jobs, prefork concurrency {args.concurrency}, Redis broker", flush=True
    )
    plain = bench_celery(args, broker, results, home / "plain-worker.log")
    print(f"plain celery: {plain['elapsed']:.2f} s, {plain['rate']:.0f} tasks/s", flush=True)
    with postgres_database(PG_DB, PG_ADMIN) as db_url:
        ours = bench_jobsys(args, broker, db_url, home)
    print(f"jobsys:       {ours['elapsed']:.2f} s, {ours['rate']:.0f} jobs/s (PostgreSQL store)")
    ratio = ours["rate"] / plain["rate"]
    print(f"ratio: {ratio:.2f}")
    p = {
        k: (percentile(v["latencies"], 50), percentile(v["latencies"], 99))
        for k, v in (("celery", plain), ("jobsys", ours))
    }
    print(f"latency plain celery: p50 {p['celery'][0]:.2f} ms, p99 {p['celery'][1]:.2f} ms")
    print(f"latency jobsys:       p50 {p['jobsys'][0]:.2f} ms, p99 {p['jobsys'][1]:.2f} ms")
    latency_ratio = p["jobsys"][0] / p["celery"][0]
    print(f"latency ratio (p50): {latency_ratio:.2f}")
    print(f"throughput target (>= 0.5x): {'target met' if ratio >= 0.5 else 'target missed'}")
    met = latency_ratio <= 3
    print(f"latency target (p50 <= 3x): {'target met' if met else 'target missed'}")
    print(
        f"mean jobsys latency {statistics.mean(ours['latencies']):.2f} ms over "
        f"{len(ours['latencies'])} samples"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
