"""``jobsys worker``: serve capabilities' queues."""

from __future__ import annotations

import typer

from jobsys.execution.worker import plan, run_worker
from jobsys.runtime import Runtime
from jobsys.settings import load_settings


def worker(
    capability: list[str] = typer.Option(
        [], "--capability", "-C", help="Capability to serve (repeat). Default: all available."
    ),
    concurrency: int | None = typer.Option(None, "--concurrency", "-c", min=1),
    pool: str = typer.Option("prefork", help="Celery pool: prefork, threads, solo."),
    name: str | None = typer.Option(None, help="Worker node name (default jobsys-PID@host)."),
    loglevel: str = typer.Option("INFO", help="Log level."),
) -> None:
    """Start a worker serving the given capabilities (each is a queue of the same name)."""
    runtime = Runtime(load_settings())
    serving = plan(runtime.registry, capability)
    typer.echo(f"serving: {', '.join(serving.serve)}", err=True)
    for what, reason in serving.skipped.items():
        typer.echo(f"skipped {what}: {reason}", err=True)
    run_worker(
        runtime, serving.serve, concurrency=concurrency, pool=pool, name=name, loglevel=loglevel
    )
