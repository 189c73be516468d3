"""``jobsys schedules create|update|list|show|enable|disable|delete|run-now``, ``jobsys beat``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import typer

from jobsys.cli import render
from jobsys.cli.jobs import parse_inputs
from jobsys.client import Client

app = typer.Typer(help="Schedules: templates fired on cron or an interval by `jobsys beat`.")
NAME = typer.Argument(..., help="Schedule name or id.")


def _local(value: datetime | None, zone: str) -> str:
    """A UTC instant in the schedule's timezone, with its offset."""
    if value is None:
        return "-"
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def _timing(row: Any) -> str:
    if row.cron_expression is not None:
        return f"{row.cron_expression} ({row.timezone})"
    return f"every {row.interval_seconds}s"


@app.command("create")
def create(
    name: str = typer.Argument(..., help="A name for the schedule."),
    template: str = typer.Option(..., "--template", "-t", help="The template it runs."),
    cron: str | None = typer.Option(None, "--cron", help='Cron expression, e.g. "0 9 * * *".'),
    every: int | None = typer.Option(None, "--every", min=1, help="Or: an interval in seconds."),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA timezone cron is read in."),
    params: list[str] = typer.Option([], "--param", "-p", help="A run parameter as key=value."),
    raw_json: str | None = typer.Option(None, "--json", help="Run parameters as a JSON object."),
    overlap: str = typer.Option("allow", help="Previous run still open: allow, skip or queue."),
    misfire: str = typer.Option("skip", help="Instants beat missed: skip, once or all."),
    disabled: bool = typer.Option(False, "--disabled", help="Create it DISABLED."),
) -> None:
    """Create a schedule; prints its name, state and next trigger."""
    with Client() as client:
        row = client.create_schedule(
            name,
            template,
            cron=cron,
            interval_seconds=every,
            timezone=timezone,
            params=parse_inputs(params, raw_json),
            overlap=overlap,
            misfire=misfire,
            enabled=not disabled,
        )
    next_at = _local(row.next_trigger_at, row.timezone)
    typer.echo(f"created {row.name} ({row.status}): {_timing(row)}, next {next_at}")


@app.command("update")
def update(
    name: str = NAME,
    cron: str | None = typer.Option(None, "--cron", help="A new cron expression."),
    every: int | None = typer.Option(None, "--every", min=1, help="Or: a new interval (s)."),
    timezone: str | None = typer.Option(None, "--timezone", help="A new IANA timezone."),
    params: list[str] = typer.Option([], "--param", "-p", help="Run parameters (replace all)."),
    raw_json: str | None = typer.Option(None, "--json", help="Run parameters as a JSON object."),
    overlap: str | None = typer.Option(None, help="allow, skip or queue."),
    misfire: str | None = typer.Option(None, help="skip, once or all."),
) -> None:
    """Change a schedule's timing, parameters or policies; beat picks it up without a restart."""
    given = parse_inputs(params, raw_json) if params or raw_json else None
    with Client() as client:
        row = client.update_schedule(
            name,
            cron=cron,
            interval_seconds=every,
            timezone=timezone,
            params=given,
            overlap=overlap,
            misfire=misfire,
        )
    next_at = _local(row.next_trigger_at, row.timezone)
    typer.echo(f"updated {row.name} ({row.status}): {_timing(row)}, next {next_at}")


@app.command("list")
def list_cmd(
    all_: bool = typer.Option(False, "--all", help="Include deleted schedules."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Schedules by name, with their next trigger in their timezone and in UTC."""
    with Client() as client:
        rows = client.schedules(include_deleted=all_)
    if as_json:
        render.as_json([render.row_dict(r) for r in rows])
        return
    render.table(
        "schedules",
        ["name", "status", "template", "when", "next (local)", "next (UTC)", "last fired"],
        [
            (
                r.name,
                r.status,
                r.template_name,
                _timing(r),
                _local(r.next_trigger_at, r.timezone),
                render.when(r.next_trigger_at),
                render.ago(r.last_triggered_at),
            )
            for r in rows
        ],
    )


@app.command("show")
def show(name: str = NAME, as_json: bool = typer.Option(False, "--json")) -> None:
    """One schedule."""
    with Client() as client:
        row = client.schedule(name)
    data = render.row_dict(row)
    if as_json:
        render.as_json(data)
        return
    for key in ("name", "id", "status", "template_name", "overlap_policy", "misfire_policy"):
        typer.echo(f"{key}: {data[key]}")
    typer.echo(f"when: {_timing(row)}")
    typer.echo(f"param_overrides: {data['param_overrides'] or {}}")
    for key in ("next_trigger_at", "last_triggered_at"):
        typer.echo(f"{key}: {_local(data[key], row.timezone)} ({render.when(data[key])} UTC)")
    for key in ("created_at", "updated_at"):
        typer.echo(f"{key}: {render.when(data[key])}")


@app.command("enable")
def enable(name: str = NAME) -> None:
    """Enable a schedule: it fires from its next instant on."""
    with Client() as client:
        row = client.enable_schedule(name)
    typer.echo(f"enabled {row.name}: next {_local(row.next_trigger_at, row.timezone)}")


@app.command("disable")
def disable(name: str = NAME) -> None:
    """Disable a schedule: it fires no more until enabled."""
    with Client() as client:
        row = client.disable_schedule(name)
    typer.echo(f"disabled {row.name}")


@app.command("delete")
def delete(name: str = NAME) -> None:
    """Delete a schedule (its runs keep naming it)."""
    with Client() as client:
        row = client.delete_schedule(name)
    typer.echo(f"deleted {row.name}")


@app.command("run-now")
def run_now(name: str = NAME) -> None:
    """Fire a schedule once now; prints the run id."""
    with Client() as client:
        typer.echo(client.run_schedule_now(name))


def beat(
    loglevel: str = typer.Option("INFO", help="Log level."),
    max_interval: float | None = typer.Option(
        None, min=0.05, help="Seconds between looks at the schedules (default: the setting)."
    ),
    name: str | None = typer.Option(
        None,
        help="Name for `jobsys health beat --name` (%h = host name): each tick touches "
        "<home>/health/<name>.",
    ),
) -> None:
    """Run celery beat with jobsys's scheduler: fires the store's schedules (no worker)."""
    from jobsys.cluster.health import heartbeat_path, with_heartbeat
    from jobsys.execution.worker import check_broker
    from jobsys.scheduling.beat import bind
    from jobsys.settings import load_settings

    settings = load_settings()
    client = Client(settings)
    try:
        client.runtime.engine  # noqa: B018 - fail now, naming the setting, if the store is unusable
        check_broker(client.runtime)
        interval = max_interval or settings.beat_max_loop_interval
        scheduler = bind(client)
        if name:
            scheduler = with_heartbeat(scheduler, heartbeat_path(settings, name))
        client.runtime.app.Beat(
            scheduler=scheduler, max_interval=interval, loglevel=loglevel, quiet=True
        ).run()
    finally:
        client.close()
