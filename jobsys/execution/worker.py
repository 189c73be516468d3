"""Which capabilities a worker serves, and starting a Celery worker on their queues."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from jobsys.capabilities import Capability
from jobsys.celery import DEFAULT_QUEUE, broker_errors
from jobsys.errors import ConfigError
from jobsys.jobtypes import JobTypeRegistry
from jobsys.runtime import Runtime


@dataclass(frozen=True)
class ServingPlan:
    """The capabilities a worker will serve, and those it skips with the reason."""

    serve: list[str]
    skipped: dict[str, str] = field(default_factory=dict)


def plan(registry: JobTypeRegistry, requested: Sequence[str] = ()) -> ServingPlan:
    """Serve ``requested`` (default: every capability) whose job types' engines are installed."""
    by_cap = {str(c): specs for c, specs in registry.by_capability().items()}
    wanted = [str(Capability.parse(r)) for r in requested] or list(by_cap)
    serve: list[str] = []
    skipped = {mod: reason for mod, reason in registry.skipped.items()}
    for cap in wanted:
        specs = by_cap.get(cap)
        if specs is None:
            raise ConfigError(
                f"no job type needs capability {cap} (known: {', '.join(by_cap) or 'none'})",
                setting="--capability",
            )
        missing = sorted({m for s in specs for m in s.missing_engines()})
        if missing:
            skipped[cap] = f"{', '.join(missing)} not installed"
        else:
            serve.append(cap)
    if not serve:
        raise ConfigError("this worker would serve no capability", setting="--capability")
    return ServingPlan(serve, skipped)


def check_broker(runtime: Runtime) -> None:
    """Fail fast, naming the setting, when the broker does not answer."""
    with broker_errors(runtime.settings), runtime.app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2)


def run_worker(
    runtime: Runtime,
    serve: Sequence[str],
    *,
    concurrency: int | None = None,
    pool: str = "prefork",
    name: str | None = None,
    loglevel: str = "INFO",
) -> None:
    """Run a Celery worker consuming exactly the queues of ``serve`` (blocks).

    Every worker also consumes ``jobsys.default``, where Celery sends its own internal
    tasks (the ``chord_unlock`` that joins a DAG run's chord on a database result
    backend); no job is ever routed there.
    """
    runtime.engine  # noqa: B018 - fail now, naming the setting, if the store is unusable
    check_broker(runtime)
    node = name or f"jobsys-{os.getpid()}@{socket.gethostname()}"
    argv = [
        "worker",
        "--queues",
        ",".join([*serve, DEFAULT_QUEUE]),
        "--concurrency",
        str(concurrency or runtime.settings.worker_concurrency),
        "--pool",
        pool,
        "--hostname",
        node,
        "--loglevel",
        loglevel,
        "--without-mingle",
        "--without-gossip",
    ]
    runtime.app.worker_main(argv)
