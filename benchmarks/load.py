"""Load benchmark: 100,000 jobs through the Python client across the loopback cluster.

The cluster is compose.yaml's topology (``jobsys.cluster.Cluster``: migrate, api, beat,
worker-data, worker-media, worker-speech, flower) on the machine's Redis (a free test DB
number) and PostgreSQL (a fresh database). Jobs are mostly ``jobsys.noop``, with a few
``data.scan`` of a tiny folder and ``generate_audio_waveform`` of a tiny WAV. Prints:

- submit rate (``Client.submit_many`` in batches) and completion rate;
- end-to-end latency p50/p99 from the store's timestamps (created → finished), and the
  time in the worker (started → finished);
- the broker's size (Redis ``used_memory``, the longest backlog) and the database's
  (``pg_database_size``, per table, bytes and rows per job);
- the RSS of every process of the cluster sampled over time, against a stated bound:
  growth <= 20% between 25% and 100% of the run;
- a baseline measured in the same run: a trivial plain Celery task on the same Redis
  with one prefork worker of the same concurrency as worker-data (which serves
  ``jobsys.noop``), and the ratio.

    python benchmarks/load.py [--jobs 100000] [--baseline-tasks 20000] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import threading
import time
import uuid
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.dispatch import plain_worker  # noqa: E402
from jobsys.client import Client  # noqa: E402
from jobsys.cluster import Cluster  # noqa: E402
from jobsys.settings import Settings  # noqa: E402
from jobsys.testing import postgres_database, wait_until  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379"
#: the Redis DB numbers tests and benchmarks take, and the key that marks one as taken
REDIS_DBS = range(9, 16)
REDIS_MARKER = "jobsys:test-session"
#: memory bound: RSS growth between 25% and 100% of the run
RSS_GROWTH_BOUND = 0.20
BATCH = 1000
TERMINAL = ("COMPLETED", "COMPLETED_WITH_WARNINGS", "FAILED", "CANCELLED", "SKIPPED")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def mib(n: float) -> str:
    """Bytes as MiB."""
    return f"{n / 2**20:.1f} MiB"


@contextmanager
def redis_database() -> Iterator[str]:
    """A Redis DB number nobody else uses (marked as the test sessions mark theirs)."""
    token = f"load-{uuid.uuid4().hex}"
    for number in REDIS_DBS:
        client = redis.Redis.from_url(f"{REDIS}/{number}")
        if client.set(REDIS_MARKER, token, nx=True, ex=7200):
            break
    else:
        raise SystemExit(f"every Redis DB in {REDIS_DBS} is taken")
    try:
        yield f"{REDIS}/{number}"
    finally:
        if client.get(REDIS_MARKER) == token.encode():
            client.flushdb()


def flush_keep_marker(url: str) -> None:
    """Empty a Redis DB but keep its marker."""
    client = redis.Redis.from_url(url)
    token = client.get(REDIS_MARKER)
    client.flushdb()
    if token:
        client.set(REDIS_MARKER, token, ex=7200)


# --- the baseline --------------------------------------------------------------------


def bench_celery(broker: str, tasks: int, concurrency: int, log: Path) -> float:
    """Plain Celery no-op tasks/s on ``broker`` (one prefork worker of ``concurrency``)."""
    env = {"BENCH_BROKER_URL": broker, "BENCH_RESULT_URL": broker}
    os.environ.update(env)
    from benchmarks._plain_celery import app, noop, noop_result

    counter = redis.Redis.from_url(broker)
    counter.delete("bench:done")
    try:
        with plain_worker(env, concurrency, log):  # the same worker benchmarks/dispatch.py runs
            wait_until(lambda: app.control.ping(timeout=0.5), 60, 0.2, "the plain Celery worker")
            noop_result.apply_async().get(timeout=30)  # warm up
            start = time.perf_counter()
            with app.producer_or_acquire() as producer:
                for _ in range(tasks):
                    noop.apply_async(producer=producer)
            wait_until(lambda: int(counter.get("bench:done") or 0) >= tasks, 900, 0.01)
            return tasks / (time.perf_counter() - start)
    finally:
        app.close()


# --- sampling --------------------------------------------------------------------------


@dataclass
class Sample:
    """One look at the cluster: when, how far the run was, every process's RSS, Redis."""

    at: float
    done: int
    rss: dict[str, int]
    redis_memory: int
    backlog: int


@dataclass
class Sampler:
    """Samples RSS of every cluster process (and this client), Redis memory and backlog."""

    cluster: Cluster
    broker: str
    interval: float = 2.0
    samples: list[Sample] = field(default_factory=list)
    done: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def processes(self) -> dict[str, psutil.Process]:
        found = {"client": psutil.Process()}
        for replica in self.cluster.replicas():
            if replica.one_shot:
                continue
            name = replica.service + (f"-{replica.replica}" if replica.replica else "")
            for proc in self.cluster.processes(replica.service):
                if proc.pid == replica.pid:
                    found[name] = proc
                    for k, child in enumerate(sorted(proc.children(), key=lambda p: p.pid)):
                        found[f"{name}/pool-{k + 1}"] = child
        return found

    def sample(self, procs: dict[str, psutil.Process], client: redis.Redis) -> None:
        rss = {}
        for name, proc in procs.items():
            try:
                rss[name] = int(proc.memory_info().rss)
            except psutil.Error:
                continue
        backlog = 0
        for key in client.scan_iter(match="*@*", count=1000, _type="LIST"):
            backlog += int(client.llen(key))
        memory = int(client.info("memory")["used_memory"])
        self.samples.append(Sample(time.monotonic(), self.done, rss, memory, backlog))

    def run(self) -> None:
        client = redis.Redis.from_url(self.broker)
        procs = self.processes()
        while not self._stop.is_set():
            self.sample(procs, client)
            self._stop.wait(self.interval)
        self.sample(procs, client)

    @contextmanager
    def running(self) -> Iterator[Sampler]:
        thread = threading.Thread(target=self.run, name="sampler", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


# --- the run ----------------------------------------------------------------------------


def tiny_wav(path: Path, seconds: float = 0.5, rate: int = 16_000) -> Path:
    """A 440 Hz tone, 16-bit mono PCM, with the standard library only."""
    import math

    frames = b"".join(
        struct.pack("<h", int(12_000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


def batches(total: int, light_every: int) -> Iterator[tuple[int, int]]:
    """(noop count, light count) per batch of ``BATCH``: one light job in ``light_every``."""
    for offset in range(0, total, BATCH):
        size = min(BATCH, total - offset)
        light = size // light_every
        yield size - light, light


def sizes(engine: sa.Engine) -> dict[str, Any]:
    """The database's size, each jobsys table's (with indexes) and row counts."""
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
        tables = conn.execute(
            sa.text(
                "SELECT relname, pg_total_relation_size(relid), pg_indexes_size(relid), "
                "n_live_tup FROM pg_stat_user_tables ORDER BY 2 DESC"
            )
        ).all()
        rows = {
            t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("jobs", "job_runs")
        }
    return {"total": int(total), "tables": tables, "rows": rows}


def latencies(engine: sa.Engine) -> dict[str, tuple[float, float]]:
    """p50/p99 in ms of created→finished, queued wait (created→started), started→finished."""
    spans = {
        "end to end (created -> finished)": "finished_at - created_at",
        "waiting (created -> started)": "started_at - created_at",
        "in the worker (started -> finished)": "finished_at - started_at",
    }
    found = {}
    with engine.connect() as conn:
        for label, span in spans.items():
            p50, p99 = conn.execute(
                sa.text(
                    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), "
                    "percentile_cont(0.99) WITHIN GROUP (ORDER BY x) FROM "
                    f"(SELECT extract(epoch FROM {span}) * 1000 AS x FROM jobs "
                    "WHERE finished_at IS NOT NULL AND started_at IS NOT NULL) AS s"
                )
            ).one()
            found[label] = (float(p50), float(p99))
    return found


def run_cluster(args: argparse.Namespace, broker: str, db_url: str, home: Path) -> dict[str, Any]:
    env = {
        "JOBSYS_BROKER_URL": broker,
        "JOBSYS_DATABASE_URL": db_url,
        "JOBSYS_HOME": str(home),
        "JOBSYS_WORKER_CONCURRENCY": str(args.concurrency),
        "JOBSYS_TASK_EVENTS": "true" if args.task_events else "false",
        "JOBSYS_API_TOKENS": "[]",
        "JOBSYS_FLOWER_BASIC_AUTH": f"load:{uuid.uuid4().hex}",
    }
    folder = home / "scan-me"
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(5):
        (folder / "sub" / f"f{i}.txt").write_text("x" * i)
    wav = tiny_wav(home / "tone.wav")

    def light(k: int, count: int) -> tuple[str, list[dict[str, Any]]]:
        """A tiny scan, or a waveform of a new asset (the same one again would be SKIPPED)."""
        if k % 2 == 0:
            return "data.scan", [{"root": str(folder)}] * count
        inputs = [{"asset_uuid": str(uuid.uuid4()), "source_path": str(wav)} for _ in range(count)]
        return "generate_audio_waveform", inputs

    cluster = Cluster(home=home, env=env, compose_file=ROOT / "compose.yaml")
    started = time.perf_counter()
    with cluster, Client(Settings(broker_url=broker, database_url=db_url, home=home)) as client:
        cluster.up(timeout=180)
        print(f"cluster up in {time.perf_counter() - started:.1f} s", flush=True)
        engine = client.runtime.engine
        before = sizes(engine)
        terminal = sa.text(
            f"SELECT count(*) FROM jobs WHERE status IN ({', '.join(repr(s) for s in TERMINAL)})"
        )
        sampler = Sampler(cluster, broker)
        with sampler.running():
            start = time.perf_counter()
            submitted = 0
            for k, (noops, lights) in enumerate(batches(args.jobs, args.light_every)):
                client.submit_many("jobsys.noop", [{}] * noops)
                if lights:
                    client.submit_many(*light(k, lights))
                submitted += noops + lights
            submit_time = time.perf_counter() - start
            print(f"submitted {submitted} jobs in {submit_time:.1f} s", flush=True)

            def finished() -> bool:
                with engine.connect() as conn:
                    sampler.done = int(conn.execute(terminal).scalar_one())
                return sampler.done >= args.jobs

            wait_until(finished, args.jobs / 20 + 600, 1.0, "every job to end")
            total_time = time.perf_counter() - start
        with engine.connect() as conn:
            outcome = dict(
                conn.execute(sa.text("SELECT status, count(*) FROM jobs GROUP BY status")).all()
            )
        after = sizes(engine)
        lat = latencies(engine)
    return {
        "submit_time": submit_time,
        "total_time": total_time,
        "outcome": outcome,
        "before": before,
        "after": after,
        "latency": lat,
        "samples": sampler.samples,
    }


def report_memory(samples: list[Sample], jobs: int) -> bool:
    """Print each process's RSS at 25%, 100% and peak; return whether all kept the bound."""
    at25 = next((s for s in samples if s.done >= jobs * 0.25), samples[0])
    last = samples[-1]
    names = sorted({n for s in samples for n in s.rss})
    print(f"memory (RSS) over {len(samples)} samples; bound: growth <= 20% from 25% to 100%")
    print(f"  {'process':<26} {'at 25%':>12} {'at 100%':>12} {'peak':>12} {'growth':>8}")
    ok = True
    for name in names:
        first, end = at25.rss.get(name), last.rss.get(name)
        peak = max(s.rss.get(name, 0) for s in samples)
        if not first or not end:
            print(f"  {name:<26} (not alive through the run)")
            continue
        growth = (end - first) / first
        ok &= growth <= RSS_GROWTH_BOUND
        mark = "" if growth <= RSS_GROWTH_BOUND else "  over the bound"
        print(f"  {name:<26} {mib(first):>12} {mib(end):>12} {mib(peak):>12} {growth:>+7.1%}{mark}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--baseline-tasks", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=2, help="per worker service")
    parser.add_argument(
        "--light-every", type=int, default=50, help="one data/media job in N (default 2%%)"
    )
    parser.add_argument(
        "--task-events",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="workers send task events, as compose.yaml has them (Flower keeps at most "
        "FLOWER_MAX_TASKS of them in memory)",
    )
    args = parser.parse_args()

    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"jobsys-load-{os.getpid()}"
    home.mkdir(parents=True, exist_ok=True)
    print(
        f"{args.jobs} jobs (1 in {args.light_every} data.scan / generate_audio_waveform, the "
        f"rest jobsys.noop) across the loopback cluster; worker concurrency {args.concurrency}; "
        f"task events {'on' if args.task_events else 'off'}",
        flush=True,
    )
    with redis_database() as broker:
        baseline = bench_celery(broker, args.baseline_tasks, args.concurrency, home / "plain.log")
        print(f"baseline: plain Celery no-op, {args.baseline_tasks} tasks: {baseline:.0f} tasks/s")
        flush_keep_marker(broker)
        with postgres_database(f"jobsys_load_{os.getpid()}", PG_ADMIN) as db_url:
            result = run_cluster(args, broker, db_url, home)

    jobs = args.jobs
    print(f"outcome: {result['outcome']}")
    submit_rate = jobs / result["submit_time"]
    rate = jobs / result["total_time"]
    print(f"submit rate: {submit_rate:.0f} jobs/s ({result['submit_time']:.1f} s)")
    print(f"completion rate: {rate:.0f} jobs/s ({jobs} jobs ended {result['total_time']:.1f} s)")
    print(f"ratio (completion rate / plain Celery): {rate / baseline:.2f}")
    for label, (p50, p99) in result["latency"].items():
        print(f"latency {label}: p50 {p50:,.1f} ms, p99 {p99:,.1f} ms")
    samples: list[Sample] = result["samples"]
    print(
        f"broker: Redis used_memory {mib(samples[0].redis_memory)} at the start, peak "
        f"{mib(max(s.redis_memory for s in samples))}, {mib(samples[-1].redis_memory)} at the "
        f"end; longest backlog {max(s.backlog for s in samples)} messages"
    )
    before, after = result["before"], result["after"]
    grown = after["total"] - before["total"]
    print(
        f"database: {mib(after['total'])} (grew {mib(grown)}: {grown / jobs:.0f} bytes per job); "
        f"rows per job: jobs {after['rows']['jobs'] / jobs:.2f}, "
        f"job_runs {after['rows']['job_runs'] / jobs:.2f}"
    )
    for name, total, indexes, _ in after["tables"][:6]:
        print(f"  {name:<22} {mib(total):>12} (indexes {mib(indexes)})")
    ok = report_memory(samples, jobs)
    print(f"memory bound: {'target met' if ok else 'target missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
