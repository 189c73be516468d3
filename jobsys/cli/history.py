"""``jobsys history prune|stats``: remove old history; count what the store holds."""

from __future__ import annotations

import typer

from jobsys.cli import render
from jobsys.client import Client
from jobsys.durations import HINT, parse_duration
from jobsys.store.retention import DEFAULT_BATCH_SIZE

app = typer.Typer(
    help="The run history: prune what is older than a period; count what is kept.",
    no_args_is_help=True,
)


def _duration(value: str) -> str:
    """Check ``--older-than`` while parsing, so click names the option in its error."""
    try:
        parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


@app.command("prune")
def prune(
    older_than: str = typer.Option(
        ...,
        "--older-than",
        callback=_duration,
        help=f"Remove ended jobs idle for longer than this: {HINT}.",
    ),
    keep_failed: bool = typer.Option(
        False, "--keep-failed", help="Keep FAILED jobs (with their runs and groups)."
    ),
    batch_size: int = typer.Option(
        DEFAULT_BATCH_SIZE, "--batch-size", min=1, help="Jobs removed per transaction."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; remove nothing."),
) -> None:
    """Remove ended jobs, their runs, groups, sink figures and log files older than a period.

    Running jobs and published outputs are never touched.
    """
    period = parse_duration(older_than)
    with Client() as client:
        report = client.prune_history(
            period, keep_failed=keep_failed, batch_size=batch_size, dry_run=dry_run
        )
    typer.echo(report.summary())
    for problem in report.log_errors:
        typer.echo(f"warning: log file not removed: {problem}", err=True)


@app.command("stats")
def stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Rows per history table, the oldest job, and the daily prune's last run."""
    with Client() as client:
        counted, last = client.history_stats()
    if as_json:
        render.as_json(
            {
                "rows": counted.rows,
                "oldest_job": counted.oldest_job,
                "oldest_ended_job": counted.oldest_ended_job,
                "last_prune": None if last is None else render.row_dict(last),
            }
        )
        return
    render.table("history", ["table", "rows"], [(t, f"{n:,}") for t, n in counted.rows.items()])
    typer.echo(f"oldest job: {_when(counted.oldest_job)}")
    typer.echo(f"oldest ended job: {_when(counted.oldest_ended_job)}")
    if last is None:
        typer.echo("daily prune: never ran")
    else:
        summary = (last.report or {}).get("summary") or (last.report or {}).get("error") or ""
        typer.echo(f"daily prune: last started {_when(last.started_at)} by {last.owner} {summary}")


def _when(value: object) -> str:
    return "-" if value is None else str(value)
