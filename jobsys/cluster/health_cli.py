"""``jobsys health api|worker|beat|flower``: exit 0 when the service answers, else 1.

compose.yaml's healthchecks and ``jobsys cluster`` run exactly these commands. They run
often, so ``python -m jobsys health ...`` loads only this command (``main()``), not the
whole CLI; ``jobsys.cli`` registers the same ``app``.
"""

from __future__ import annotations

import sys

import typer

from jobsys.cluster import health
from jobsys.errors import JobsysError
from jobsys.settings import load_settings

app = typer.Typer(
    help="Health checks of the services (compose healthchecks use them).", no_args_is_help=True
)


@app.command("api")
def api() -> None:
    """The REST API answers GET /healthz on JOBSYS_API_PORT."""
    typer.echo(health.check_api(load_settings()))


@app.command("flower")
def flower(
    address: str = typer.Option("127.0.0.1", help="The address Flower listens on."),
) -> None:
    """Flower answers GET /healthcheck on JOBSYS_FLOWER_PORT."""
    typer.echo(health.check_flower(load_settings(), address))


@app.command("worker")
def worker(
    name: str = typer.Option(..., help="The worker's node name, as given to `jobsys worker`."),
) -> None:
    """The worker of that node name answers a Celery ping on the broker."""
    typer.echo(health.check_worker(load_settings(), name))


@app.command("beat")
def beat(
    name: str = typer.Option(..., help="The beat's name, as given to `jobsys beat --name`."),
) -> None:
    """The beat of that name ticked within three scheduler loops."""
    typer.echo(health.check_beat(load_settings(), name))


def main(argv: list[str]) -> None:
    """``jobsys health ...`` alone, with the CLI's error boundary (one line, the exit code)."""
    try:
        app(args=argv, prog_name="jobsys health", standalone_mode=True)
    except JobsysError as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        sys.exit(type(exc).exit_code)
