"""``jobsys flower``: Flower (Celery's web monitor) on the configured broker, behind basic auth.

It runs ``celery -A jobsys.celery flower``: the lazy ``jobsys.celery.app`` reads the same
settings, so Flower sees the broker and the queues (capabilities) the workers use. A task's
name is its job type and its id is the job id, so a job found in ``jobsys jobs list`` is
found in Flower by its id. The credentials go to Flower through its environment
(``FLOWER_BASIC_AUTH``), not its command line, where ``ps`` would show them. Workers must
send task events for Flower's task list: ``JOBSYS_TASK_EVENTS=1``.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import typer

from jobsys.errors import ConfigError
from jobsys.settings import load_settings


def flower_command(address: str, port: int) -> list[str]:
    """The command line that starts Flower for jobsys (no secret in it)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "jobsys.celery",
        "flower",
        f"--address={address}",
        f"--port={port}",
    ]


def flower(
    address: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int | None = typer.Option(
        None, min=1, max=65535, help="Port to listen on [JOBSYS_FLOWER_PORT]."
    ),
) -> None:
    """Start Flower on the configured broker, with basic auth from JOBSYS_FLOWER_BASIC_AUTH."""
    settings = load_settings()
    if importlib.util.find_spec("flower") is None:
        raise ConfigError("Flower is not installed: pip install 'jobsys[flower]'")
    if settings.flower_basic_auth is None:
        raise ConfigError(
            "set JOBSYS_FLOWER_BASIC_AUTH to user:password: Flower is not started without "
            "authentication",
            setting="JOBSYS_FLOWER_BASIC_AUTH",
        )
    env = {**os.environ, "FLOWER_BASIC_AUTH": settings.flower_basic_auth.get_secret_value()}
    command = flower_command(address, port or settings.flower_port)
    typer.echo(f"Flower on http://{address}:{port or settings.flower_port}/ (basic auth)")
    sys.stdout.flush()
    os.execve(command[0], command, env)
