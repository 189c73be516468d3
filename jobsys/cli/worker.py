"""``jobsys worker``: serve capabilities' queues (named one by one, or by group)."""

from __future__ import annotations

from pathlib import Path

import typer

from jobsys.capability_groups import group_capabilities
from jobsys.execution.worker import plan, run_worker
from jobsys.runtime import Runtime
from jobsys.settings import load_settings


def worker(
    capability: list[str] = typer.Option(
        [], "--capability", "-C", help="Capability to serve (repeat). Default: all available."
    ),
    group: list[str] = typer.Option(
        [],
        "--group",
        "-g",
        help="Serve every capability of this group of config/capabilities.toml (repeat).",
    ),
    groups_file: Path | None = typer.Option(
        None,
        "--groups-file",
        help="The capability groups file (default: ./config/capabilities.toml).",
    ),
    concurrency: int | None = typer.Option(None, "--concurrency", "-c", min=1),
    pool: str = typer.Option("prefork", help="Celery pool: prefork, threads, solo."),
    name: str | None = typer.Option(
        None, help="Worker node name, %h = host name (default jobsys-PID@host)."
    ),
    loglevel: str = typer.Option("INFO", help="Log level."),
) -> None:
    """Start a worker serving the given capabilities (each is a queue of the same name)."""
    requested = list(capability)
    if group:
        requested += [c for c in group_capabilities(group, groups_file) if c not in requested]
    runtime = Runtime(load_settings())
    serving = plan(runtime.registry, requested)
    typer.echo(f"serving: {', '.join(serving.serve)}", err=True)
    for what, reason in serving.skipped.items():
        typer.echo(f"skipped {what}: {reason}", err=True)
    run_worker(
        runtime, serving.serve, concurrency=concurrency, pool=pool, name=name, loglevel=loglevel
    )
