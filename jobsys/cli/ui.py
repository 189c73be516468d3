"""``jobsys ui``: the jobs view in the terminal (Textual, the ``ui`` extra)."""

from __future__ import annotations

import typer

from jobsys.client import Client
from jobsys.errors import ConfigError
from jobsys.settings import load_settings


def ui(
    interval: float = typer.Option(
        0.5, min=0.1, max=60.0, help="Seconds between polls of the store."
    ),
) -> None:
    """Watch jobs: failed first, progress, outputs; Enter details, m monitoring, ? help."""
    try:
        from jobsys.tui.app import JobsApp
    except ImportError as exc:
        raise ConfigError(
            f"the jobs view needs Textual ({exc.name} is missing): pip install 'jobsys[ui]'"
        ) from exc
    with Client(load_settings()) as client:
        JobsApp(client, poll_interval=interval).run()
