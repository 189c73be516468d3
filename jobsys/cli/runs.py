"""``jobsys runs list JOB_ID``: the append-only history of a job's attempts."""

from __future__ import annotations

from typing import Any

import typer

from jobsys.cli import render
from jobsys.client import Client

app = typer.Typer(help="The history of attempts (JobRuns).", no_args_is_help=True)


def print_runs(runs: list[Any]) -> None:
    """A table of runs."""
    render.table(
        "runs",
        ["attempt", "status", "started", "ms", "worker", "exit", "error"],
        [
            (
                r.attempt,
                render.status(r.status),
                render.ago(r.started_at),
                r.duration_ms,
                r.worker_id,
                r.exit_code,
                (r.error or "").splitlines()[0][:100] if r.error else "",
            )
            for r in runs
        ],
    )


@app.command("list")
def list_runs(
    job_id: str = typer.Argument(..., help="A job id, or a unique prefix of one."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every attempt of a job, oldest first."""
    with Client() as client:
        runs = client.runs(client.resolve(job_id))
        if as_json:
            render.as_json([render.row_dict(r) for r in runs])
        else:
            print_runs(runs)
