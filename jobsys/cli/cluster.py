"""``jobsys cluster up|down|status``: compose.yaml's topology as processes on loopback."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console
from rich.table import Table

from jobsys.cluster import Cluster
from jobsys.errors import InputError
from jobsys.settings import load_settings

app = typer.Typer(
    help="compose.yaml's services as processes on this machine (the machine's Redis and "
    "PostgreSQL, or JOBSYS_BROKER_URL / JOBSYS_DATABASE_URL).",
    no_args_is_help=True,
)
#: used when neither the environment nor jobsys.toml names a broker / store
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/jobsys"

HOME = typer.Option(None, "--home", help="Where cluster/ (logs, state) goes [JOBSYS_HOME].")
FILE = typer.Option(None, "--file", "-f", help="The compose file (default: ./compose.yaml).")


def _home(home: Path | None) -> Path:
    return home or load_settings().resolved_home


def _environment() -> dict[str, str]:
    """Every JOBSYS_* variable of this shell, and the broker and store to run against."""
    settings = load_settings()
    env = {k: v for k, v in os.environ.items() if k.startswith("JOBSYS_")}
    env.setdefault("JOBSYS_BROKER_URL", settings.broker_url or DEFAULT_BROKER)
    env.setdefault("JOBSYS_DATABASE_URL", settings.database_url or DEFAULT_DATABASE)
    return env


def _scale(values: list[str]) -> dict[str, int]:
    scale: dict[str, int] = {}
    for value in values:
        name, sep, count = value.partition("=")
        if not (sep and count.isdigit()):
            raise InputError("cluster", "--scale", f"{value!r} is not SERVICE=N")
        scale[name] = int(count)
    return scale


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@app.command("up")
def up(
    detach: bool = typer.Option(False, "--detach", "-d", help="Return once healthy."),
    scale: list[str] = typer.Option([], help="SERVICE=N replicas (repeat), e.g. beat=2."),
    service: list[str] = typer.Option(
        [], "--service", "-s", help="Only these services (repeat). Default: all but redis/postgres."
    ),
    timeout: float = typer.Option(90.0, help="Seconds to wait for every service to be healthy."),
    home: Path | None = HOME,
    file: Path | None = FILE,
) -> None:
    """Start the cluster; without --detach, Ctrl-C or SIGTERM brings it down."""
    cluster = Cluster(
        home=_home(home),
        env=_environment(),
        compose_file=file,
        services=service or None,
        scale=_scale(scale),
    )
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    cluster.up(timeout)
    _print_status(cluster)
    if detach:
        typer.echo(f"logs in {cluster.directory}; stop with `jobsys cluster down`")
        return
    typer.echo("running; Ctrl-C stops every service")
    try:
        _watch(cluster)
    except KeyboardInterrupt:
        typer.echo("stopping", err=True)
    finally:
        cluster.down()


def _watch(cluster: Cluster) -> None:
    reported: set[tuple[str, int]] = set()
    while True:
        for replica in cluster.replicas():
            key = (replica.service, replica.replica)
            if key not in reported and not replica.one_shot and not cluster.alive(replica):
                reported.add(key)
                typer.echo(
                    f"{replica.service}[{replica.replica}] (pid {replica.pid}) exited; "
                    f"see {replica.log}",
                    err=True,
                )
        time.sleep(1.0)


@app.command("down")
def down(
    timeout: float = typer.Option(20.0, help="Seconds before SIGKILL follows SIGTERM."),
    home: Path | None = HOME,
) -> None:
    """Stop the cluster started from this home (SIGTERM, then SIGKILL)."""
    cluster = Cluster(home=_home(home), env={})
    count = sum(1 for _ in cluster.replicas())
    cluster.down(timeout)
    typer.echo(f"stopped {count} process(es)" if count else "no cluster is running")


@app.command("status")
def status(home: Path | None = HOME) -> None:
    """Each service replica: pid, healthy (its healthcheck, now), RSS."""
    cluster = Cluster(home=_home(home), env={})
    if not any(True for _ in cluster.replicas()):
        typer.echo("no cluster is running")
        raise typer.Exit(1)
    if not _print_status(cluster):
        raise typer.Exit(1)


def _print_status(cluster: Cluster) -> bool:
    table = Table("service", "pid", "healthy", "rss", "ports", "detail")
    all_healthy = True
    for row in cluster.status():
        all_healthy &= row.healthy
        name = row.service if row.replica == 0 else f"{row.service}-{row.replica}"
        ports = ", ".join(f"{k.removeprefix('JOBSYS_')}={v}" for k, v in row.ports.items())
        table.add_row(
            name,
            str(row.pid),
            "yes" if row.healthy else "NO",
            f"{row.rss / 2**20:.0f} MiB" if row.rss else "-",
            ports,
            row.detail,
        )
    Console(width=160).print(table)
    return all_healthy
