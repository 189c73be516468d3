"""DAG benchmark: a forEach fan-out + fan-in of no-op steps through jobsys vs a plain Celery
chord of the same width, in the same run, on Redis with the same worker settings.

jobsys runs a template ``count → forEach noop → join``: the items are produced by the
first step, expanded at run time into one job each (persisted in PostgreSQL, every
attempt recorded) and joined by a chord. The baseline is ``chord(group(noop × N), join)``.
Prints wall time and steps/s of each, ``ratio: <jobsys/celery>`` for the widest run on a
line of its own, and the peak memory (RSS) of every process: the benchmark's own (the
client) and each worker process (parent and pool children).

    python benchmarks/dag.py [--widths 1000,10000] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.dispatch import PG_ADMIN, plain_worker  # noqa: E402
from jobsys.celery import close_app  # noqa: E402
from jobsys.client import Client  # noqa: E402
from jobsys.lifecycle import GroupState  # noqa: E402
from jobsys.settings import Settings  # noqa: E402
from jobsys.testing import WorkerProcess, postgres_database, wait_until  # noqa: E402

PG_DB = "jobsys_bench_dag"
GIB = 1024**3


def manifest(width: int) -> str:
    return f"""apiVersion: jobsys/v1
kind: Job
metadata: {{name: fan-{width}}}
steps:
  - name: count
    type: demo.count
    with: {{n: {width}}}
  - name: each
    type: jobsys.noop
    dependsOn: [count]
    forEach: "${{{{ steps.count.outputs.items }}}}"
  - name: join
    type: jobsys.noop
    dependsOn: [each]
"""


class PeakRSS:
    """Samples the RSS of processes (and their children) every 0.2 s; keeps each one's peak."""

    def __init__(self) -> None:
        self.roots: dict[str, tuple[int, bool]] = {}
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, label: str, pid: int, children: bool = True) -> None:
        self.roots[label] = (pid, children)

    def _sample(self) -> None:
        for label, (pid, children) in list(self.roots.items()):
            try:
                root = psutil.Process(pid)
                procs = [root, *(root.children(recursive=True) if children else [])]
            except psutil.NoSuchProcess:
                continue
            for i, proc in enumerate(procs):
                name = label if i == 0 else f"{label} child {i}"
                try:
                    rss = proc.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                self.peaks[name] = max(self.peaks.get(name, 0), rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def bench_celery(width: int, env: dict[str, str]) -> float:
    from celery import chord

    from benchmarks._plain_celery import app, join, noop

    counter = redis.Redis.from_url(env["BENCH_RESULT_URL"])
    counter.delete("bench:done", "bench:join")
    start = time.perf_counter()
    result = chord([noop.si() for _ in range(width)], join.si()).apply_async()
    wait_until(lambda: int(counter.get("bench:join") or 0) >= 1, 900, 0.01, "the plain chord")
    elapsed = time.perf_counter() - start
    del result
    close_app(app)
    return elapsed


def bench_jobsys(client: Client, width: int) -> float:
    client.apply(text=manifest(width))
    start = time.perf_counter()
    group_id = client.run_template(f"fan-{width}")
    state = client.wait_group(group_id, 1800)
    elapsed = time.perf_counter() - start
    if state != GroupState.COMPLETED:
        raise SystemExit(f"the jobsys run ended {state}")
    return elapsed


@contextmanager
def jobsys_worker(env: dict[str, str], concurrency: int, log_dir: Path) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(
        env, ["demo.basic@1", "jobsys.noop@1"], concurrency=concurrency, log_dir=log_dir
    )
    try:
        yield worker.wait_ready()
    finally:
        worker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="1000,10000")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--redis-db", type=int, default=12)
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]

    broker = f"redis://127.0.0.1:6379/{args.redis_db}"
    results = f"redis://127.0.0.1:6379/{args.redis_db + 1}"
    for url in (broker, results):
        redis.Redis.from_url(url).flushdb()
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"jobsys-bench-dag-{os.getpid()}"
    home.mkdir(parents=True, exist_ok=True)
    print(f"forEach fan-out + fan-in of no-op steps, prefork concurrency {args.concurrency}")
    plain_env = {"BENCH_BROKER_URL": broker, "BENCH_RESULT_URL": results}
    os.environ.update(plain_env)  # read by benchmarks._plain_celery when it is imported
    figures: dict[int, dict[str, float]] = {w: {} for w in widths}

    with PeakRSS() as celery_mem:
        celery_mem.watch("benchmark (client)", os.getpid(), children=False)
        with plain_worker(plain_env, args.concurrency, home / "plain.log"):
            from benchmarks._plain_celery import app

            wait_until(lambda: app.control.ping(timeout=0.5), 60, 0.2, "the plain worker")
            for pid in _children_named("benchmarks._plain_celery"):
                celery_mem.watch("plain celery worker", pid)
            for width in widths:
                elapsed = bench_celery(width, plain_env)
                figures[width]["celery"] = elapsed
                print(
                    f"plain celery chord, {width} wide: {elapsed:.2f} s, "
                    f"{(width + 1) / elapsed:.0f} steps/s",
                    flush=True,
                )
    redis.Redis.from_url(broker).flushdb()
    with postgres_database(PG_DB, PG_ADMIN) as db_url, PeakRSS() as ours_mem:
        ours_mem.watch("benchmark (client)", os.getpid(), children=False)
        env = {
            "JOBSYS_BROKER_URL": broker,
            "JOBSYS_DATABASE_URL": db_url,
            "JOBSYS_HOME": str(home),
        }
        settings = Settings(broker_url=broker, database_url=db_url, home=home)
        with Client(settings) as client, jobsys_worker(env, args.concurrency, home) as worker:
            ours_mem.watch("jobsys worker", worker.proc.pid)
            for width in widths:
                elapsed = bench_jobsys(client, width)
                figures[width]["jobsys"] = elapsed
                steps = width + 2
                print(
                    f"jobsys forEach, {width} wide: {elapsed:.2f} s, {steps / elapsed:.0f} steps/s "
                    f"({width} items + count + join, each a job with its JobRun)",
                    flush=True,
                )
    widest = max(widths)
    ratio = ((widest + 2) / figures[widest]["jobsys"]) / ((widest + 1) / figures[widest]["celery"])
    for width in widths:
        r = ((width + 2) / figures[width]["jobsys"]) / ((width + 1) / figures[width]["celery"])
        print(f"steps/s ratio jobsys/celery at {width} wide: {r:.2f}")
    print(f"ratio: {ratio:.2f}")
    print(f"throughput target (>= 0.5x at {widest} wide): {'met' if ratio >= 0.5 else 'missed'}")
    peaks: dict[str, Any] = {**{f"celery run: {k}": v for k, v in celery_mem.peaks.items()}}
    peaks.update({f"jobsys run: {k}": v for k, v in ours_mem.peaks.items()})
    for name, rss in sorted(peaks.items()):
        print(f"peak RSS {name}: {rss / 2**20:.0f} MiB")
    worst = max(v for k, v in peaks.items() if k.startswith("jobsys run"))
    print(f"memory target (every jobsys process < 1 GiB): {'met' if worst < GIB else 'missed'}")
    return 0


def _children_named(marker: str) -> list[int]:
    me = psutil.Process(os.getpid())
    return [p.pid for p in me.children() if any(marker in part for part in (p.cmdline() or []))]


if __name__ == "__main__":
    sys.exit(main())
