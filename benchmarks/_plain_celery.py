"""The baseline: a plain Celery app with the same worker settings as jobsys, and a no-op task.

Started as ``celery -A benchmarks._plain_celery worker`` by ``benchmarks/dispatch.py``;
the broker and result URLs come from ``BENCH_BROKER_URL`` / ``BENCH_RESULT_URL``.
"""

from __future__ import annotations

import os

import redis
from celery import Celery

app = Celery("plain", broker=os.environ["BENCH_BROKER_URL"], backend=os.environ["BENCH_RESULT_URL"])
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="plain",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
_counter = redis.Redis.from_url(os.environ["BENCH_RESULT_URL"])


@app.task(name="plain.noop", ignore_result=True)
def noop() -> None:
    """Do nothing; count the completion (one INCR, the baseline's only bookkeeping)."""
    _counter.incr("bench:done")


@app.task(name="plain.join", ignore_result=True)
def join() -> None:
    """A chord's body: count that the join ran."""
    _counter.incr("bench:join")


@app.task(name="plain.noop_result")
def noop_result() -> None:
    """Do nothing, with a result, for round-trip latency."""
