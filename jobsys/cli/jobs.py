"""``jobsys submit``, ``jobs list|show|cancel|retry``, ``capabilities`` and ``types``."""

from __future__ import annotations

import json
from typing import Any

import typer

from jobsys.cli import render
from jobsys.client import Client
from jobsys.errors import InputError
from jobsys.lifecycle import JobState

ID_HELP = "A job id, or a unique prefix of one (as `jobs list` shows)."

app = typer.Typer(help="List, inspect, cancel and retry jobs.", no_args_is_help=True)


def parse_inputs(pairs: list[str], raw_json: str | None) -> dict[str, Any]:
    """``key=value`` pairs over a JSON object; values are coerced by the job type's model."""
    data: dict[str, Any] = {}
    if raw_json:
        try:
            loaded = json.loads(raw_json)
        except json.JSONDecodeError as exc:
            raise InputError(
                "cli", "--json", f"not JSON: {exc.msg} at column {exc.colno}"
            ) from None
        if not isinstance(loaded, dict):
            raise InputError("cli", "--json", "must be a JSON object")
        data.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError("cli", "--input", f"{pair!r} is not key=value")
        data[key] = value
    return data


def submit(
    job_type: str = typer.Argument(..., help="Job type name (see `jobsys types`)."),
    inputs: list[str] = typer.Option([], "--input", "-i", help="An input as key=value."),
    raw_json: str | None = typer.Option(None, "--json", help="Inputs as a JSON object."),
    priority: int | None = typer.Option(None, min=0, max=9, help="0 (low) .. 9 (high)."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the job to end."),
    timeout: float = typer.Option(300.0, help="Seconds to wait with --wait."),
) -> None:
    """Validate inputs and enqueue one job; prints its id."""
    with Client() as client:
        handle = client.submit(job_type, parse_inputs(inputs, raw_json), priority=priority)
        if not wait:
            typer.echo(handle.id)
            return
        state = handle.wait(timeout)
        job = client.job(handle.id)
        typer.echo(f"{handle.id} {state.value}")
        if job.outputs is not None:
            render.as_json(job.outputs)
        if state not in (JobState.COMPLETED, JobState.COMPLETED_WITH_WARNINGS):
            handle.result(0)  # raises JobFailed: its message and exit code


def _waiting_capabilities(client: Client, jobs: list[Any]) -> set[str]:
    queued = {j.capability for j in jobs if j.status in ("QUEUED", "PENDING")}
    if not queued:
        return set()
    served = {c.capability for c in client.capabilities() if c.workers}
    return queued - served


@app.command("list")
def list_jobs(
    status: list[str] = typer.Option([], "--status", "-s", help="Only these states."),
    job_type: str | None = typer.Option(None, "--type", "-t", help="Only this job type."),
    limit: int = typer.Option(50, min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Jobs, failed first, then running, then newest."""
    with Client() as client:
        rows = client.jobs(status=[s.upper() for s in status], job_type=job_type, limit=limit)
        if as_json:
            render.as_json([render.row_dict(r) for r in rows])
            return
        waiting = _waiting_capabilities(client, rows)
        render.table(
            "jobs",
            ["id", "type", "status", "tries", "created", "note"],
            [
                (
                    j.id[:8],
                    j.job_type,
                    render.status(j.status),
                    f"{j.attempt}/{j.max_attempts}",
                    render.ago(j.created_at),
                    render.job_note(j, waiting),
                )
                for j in rows
            ],
        )


@app.command("show")
def show(
    job_id: str = typer.Argument(..., help=ID_HELP), as_json: bool = typer.Option(False, "--json")
) -> None:
    """One job with its inputs, outputs and runs."""
    with Client() as client:
        job_id = client.resolve(job_id)
        job, runs = client.job(job_id), client.runs(job_id)
        if as_json:
            render.as_json({**render.row_dict(job), "runs": [render.row_dict(r) for r in runs]})
            return
        waiting = _waiting_capabilities(client, [job])
        fields = [
            ("id", job.id),
            ("type", f"{job.job_type} v{job.job_type_version}"),
            ("capability", job.capability),
            ("status", render.status(job.status)),
            ("note", render.job_note(job, waiting)),
            ("priority", job.priority),
            ("attempts", f"{job.attempt}/{job.max_attempts}"),
            ("group", job.group_id),
            ("created", render.when(job.created_at)),
            ("finished", render.when(job.finished_at)),
            ("inputs", json.dumps(job.params)),
            ("outputs", json.dumps(job.outputs) if job.outputs is not None else None),
            ("output path", job.output_path),
        ]
        render.table(f"job {job.id}", ["field", "value"], fields)
        from jobsys.cli.runs import print_runs

        print_runs(runs)


@app.command("cancel")
def cancel(job_id: str = typer.Argument(..., help=ID_HELP)) -> None:
    """Cancel a job: recorded first, then revoked (queued) or terminated (running)."""
    with Client() as client:
        job_id = client.resolve(job_id)
        was = client.cancel(job_id)
        typer.echo(f"{job_id} CANCELLED (was {was.value})")


@app.command("retry")
def retry(job_id: str = typer.Argument(..., help=ID_HELP)) -> None:
    """Re-queue a FAILED or CANCELLED job for a fresh set of attempts."""
    with Client() as client:
        job_id = client.resolve(job_id)
        client.retry(job_id)
        typer.echo(f"{job_id} QUEUED")


@app.command("requeue")
def requeue(
    older_than: float = typer.Option(300.0, help="Only jobs created this many seconds ago."),
    queued: bool = typer.Option(
        False, "--queued", help="QUEUED jobs too (after the broker lost its messages)."
    ),
) -> None:
    """Publish again jobs that should be on a queue but may have lost their message."""
    with Client() as client:
        ids = client.requeue(older_than, include_queued=queued)
        typer.echo(f"requeued {len(ids)} job(s)")


def recover(
    older_than: float | None = typer.Option(
        None, help="Seconds a PENDING or stale RUNNING job waits first (default: recover_after)."
    ),
    broker_lost: bool = typer.Option(
        False, "--broker-lost", help="Publish every queued job and open DAG step again."
    ),
) -> None:
    """Publish again the jobs whose messages the broker lost (what `jobsys beat` does
    every recover_interval seconds); an extra delivery is recorded SKIPPED, never run."""
    with Client() as client:
        done = client.recover(older_than, lost=True if broker_lost else None)
        lost = " (the broker had lost its messages)" if done.broker_lost else ""
        typer.echo(f"published again {len(done.jobs)} job(s), {len(done.steps)} DAG step(s){lost}")


def capabilities(
    as_json: bool = typer.Option(False, "--json"),
    timeout: float = typer.Option(1.0, help="Seconds to wait for workers to answer."),
) -> None:
    """Per capability: queue depth, workers serving it, job types."""
    with Client() as client:
        infos = client.capabilities(timeout)
        if as_json:
            render.as_json([i.__dict__ for i in infos])
            return
        render.table(
            "capabilities",
            ["capability", "queued", "running", "broker", "workers", "job types"],
            [
                (
                    i.capability,
                    i.queued,
                    i.running,
                    i.broker_depth,
                    ", ".join(i.workers) or "[red]none[/red]",
                    ", ".join(i.job_types),
                )
                for i in infos
            ],
        )


def types() -> None:
    """Registered job types and the capability each needs."""
    with Client() as client:
        rows = []
        for spec in client.registry:
            missing = spec.missing_engines()
            note = f"needs {', '.join(missing)}" if missing else ""
            rows.append((spec.name, str(spec.capability), spec.input_model.__name__, note))
        render.table("job types", ["name", "capability", "inputs", "note"], rows)
        for module, reason in client.registry.skipped.items():
            typer.echo(f"skipped {module}: {reason}", err=True)
