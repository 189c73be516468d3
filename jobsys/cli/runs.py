"""``jobsys run NAME`` (a template's DAG run), and ``jobsys runs``: a job's attempts
(``runs list JOB_ID``) and DAG runs (``show``, ``retry``, ``cancel``, ``callbacks``)."""

from __future__ import annotations

from typing import Any

import typer

from jobsys.cli import render
from jobsys.cli.jobs import parse_inputs
from jobsys.client import Client
from jobsys.lifecycle import GroupState

app = typer.Typer(help="Attempts of a job (JobRuns) and DAG runs.", no_args_is_help=True)
RUN_HELP = "A run (JobGroup) id, or a unique prefix of one (as `jobsys run` prints it)."


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


def run(
    template: str = typer.Argument(..., help="Template name (see `jobsys templates list`)."),
    params: list[str] = typer.Option([], "--param", "-p", help="A run parameter as key=value."),
    raw_json: str | None = typer.Option(None, "--json", help="Run parameters as a JSON object."),
    priority: int | None = typer.Option(None, min=0, max=9, help="0 (low) .. 9 (high)."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the run to end, then show it."),
    timeout: float = typer.Option(600.0, help="Seconds to wait with --wait."),
) -> None:
    """Run a template: one job per step, sent as a Celery canvas; prints the run id.

    With --wait, exits 7 if the run ended PARTIAL or CANCELLED.
    """
    with Client() as client:
        group_id = client.run_template(template, parse_inputs(params, raw_json), priority=priority)
        if not wait:
            typer.echo(group_id)
            return
        state = client.wait_group(group_id, timeout)
        print_run(client, group_id)
        if state != GroupState.COMPLETED:
            raise typer.Exit(7)


def print_run(client: Client, group_id: str) -> None:
    """A run's state and one line per step (forEach items counted by state)."""
    group, _ = client.group(group_id)
    typer.echo(f"run {group.id} {group.name or ''}: {group.status}")
    if group.error:
        typer.echo(f"  {group.error}")
    rows: dict[str, list[Any]] = {}
    for job in client.run_tasks(group_id):
        rows.setdefault(job.step or "?", []).append(job)
    table = []
    for step, jobs in rows.items():
        own, items = jobs[0], jobs[1:]
        counts: dict[str, int] = {}
        for item in items:
            counts[item.status] = counts.get(item.status, 0) + 1
        detail = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
        table.append(
            (
                step,
                own.job_type,
                render.status(own.status),
                f"{len(items)} items: {detail}" if items else "",
                own.id[:8],
                (own.error or "")[:80],
            )
        )
    render.table("steps", ["step", "type", "status", "items", "job", "error"], table)


@app.command("show")
def show(
    group_id: str = typer.Argument(..., help=RUN_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A DAG run: its state, why it failed, and each step."""
    with Client() as client:
        full = client.resolve_group(group_id)
        if as_json:
            group, _ = client.group(full)
            jobs = client.run_tasks(full)
            render.as_json({**render.row_dict(group), "jobs": [render.row_dict(j) for j in jobs]})
        else:
            print_run(client, full)


@app.command("retry")
def retry(group_id: str = typer.Argument(..., help=RUN_HELP)) -> None:
    """Re-run a run's failed steps and what depends on them; succeeded steps keep outputs."""
    with Client() as client:
        full = client.resolve_group(group_id)
        reopened = client.retry_group(full)
        typer.echo(f"run {full}: {len(reopened)} job(s) re-queued")


@app.command("cancel")
def cancel(group_id: str = typer.Argument(..., help=RUN_HELP)) -> None:
    """Cancel a run: queued steps are dropped, running ones terminated; it ends CANCELLED."""
    with Client() as client:
        full = client.resolve_group(group_id)
        cancelled = client.cancel_group(full)
        typer.echo(f"run {full}: {len(cancelled)} job(s) cancelled")


@app.command("callbacks")
def callbacks(
    group_id: str = typer.Argument(..., help=RUN_HELP),
    retry_failed: bool = typer.Option(False, "--retry", help="Deliver failed callbacks again."),
) -> None:
    """A run's callback deliveries: event, target, status, attempts, HTTP status, error."""
    with Client() as client:
        full = client.resolve_group(group_id)
        if retry_failed:
            typer.echo(f"{client.retry_callbacks(full)} callback(s) delivered")
        render.table(
            "callbacks",
            ["event", "kind", "target", "status", "attempts", "http", "error"],
            [
                (
                    d.event,
                    d.kind,
                    d.target,
                    render.status(d.status),
                    d.attempts,
                    d.response_status,
                    (d.error or "")[:80],
                )
                for d in client.callbacks(full)
            ],
        )


def dag(
    template: str = typer.Argument(..., help="A template name or id (or a job id of a run)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A template's DAG: steps, edges, a topological order and the canvas it compiles to."""
    with Client() as client:
        graph = client.dag(template)
    if as_json:
        render.as_json(graph.to_dict())
        return
    typer.echo(f"order: {' -> '.join(graph.order)}")
    typer.echo(f"canvas: {graph.plan}" + ("" if graph.exact else "  (levels: not series-parallel)"))
    render.table(
        "steps",
        ["step", "type", "after", "forEach", "rule"],
        [
            (
                n["name"],
                n["type"],
                ", ".join(n["predecessors"]),
                str(n["forEach"] or ""),
                n["triggerRule"],
            )
            for n in graph.nodes
        ],
    )
