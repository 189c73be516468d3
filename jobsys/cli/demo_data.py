"""The data part of ``jobsys demo``: seed 000's pipeline on a few generated FIX logs.

``config/manifests/fix-pipeline.job.yaml`` (SCAN → forEach PARSE → EXPORT) is applied
and run over logs generated under ``<home>/demo/fix_logs``, one of them with a
truncated message (quarantined: that PARSE ends COMPLETED_WITH_WARNINGS).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import typer

from jobsys.cli import render
from jobsys.client import Client
from jobsys.errors import JobsysError
from jobsys.lifecycle import GroupState

CAPABILITIES = ("data.scan@1", "data.parse@1", "data.export@1")
MANIFEST = Path(__file__).resolve().parents[2] / "config" / "manifests" / "fix-pipeline.job.yaml"
TEMPLATE = "fix-pipeline"


class PipelineFailed(JobsysError):
    """The demo's data pipeline did not end as it should."""


def available() -> str | None:
    """None when the pipeline can run here, else why not."""
    if importlib.util.find_spec("pyarrow") is None:
        return "pyarrow is not installed (pip install 'jobsys[data]')"
    if not MANIFEST.is_file():
        return f"{MANIFEST} is not here (a source checkout has it)"
    return None


def make_logs(folder: Path) -> Path:
    """Three small FIX logs (SOH and ``|`` delimited), the last with a truncated message."""
    from tasks.data import samples

    for i, delimiter in enumerate(("\x01", "|", "|")):
        samples.write_fix_log(folder / f"venue_{i + 1}.log", 200, seed=i, delimiter=delimiter)
    with (folder / "venue_3.log").open("a", encoding="ascii") as out:
        out.write("2024-01-15 14:31:00.000 : 8=FIX.4.2|9=60|35=D|34=201|49=CLIENT\n")
    return folder


@dataclass(frozen=True)
class Started:
    """A pipeline run under way."""

    group_id: str
    logs: Path


def start(client: Client, home: Path) -> Started:
    """Generate fresh logs, apply the manifest and start a run over them."""
    logs = make_logs(home / "demo" / "fix_logs")
    client.apply([MANIFEST])
    return Started(client.run_template(TEMPLATE, {"root": str(logs), "bates_prefix": "DEMO"}), logs)


def wait(client: Client, started: Started, timeout: float) -> GroupState:
    """Wait for the run to end."""
    return client.wait_group(started.group_id, timeout)


def report(client: Client, started: Started, state: GroupState) -> None:
    """Print the run's jobs and where the outputs are; ``PipelineFailed`` unless it completed."""
    jobs = [r for r in client.run_tasks(started.group_id) if r.job_type.startswith("data.")]
    render.table(
        f"data pipeline {TEMPLATE}: SCAN → forEach PARSE → EXPORT (run {started.group_id[:8]})",
        ["job", "step", "type", "status", "output"],
        [(j.id[:8], j.step, j.job_type, render.status(j.status), _summary(j)) for j in jobs],
    )
    if state != GroupState.COMPLETED:
        error = client.group(started.group_id)[0].error
        raise PipelineFailed(f"the data pipeline ended {state.value}: {error}")
    parsed = next(j for j in jobs if j.job_type == "data.parse")
    export = next(j for j in jobs if j.job_type == "data.export")
    typer.echo(f"FIX logs: {started.logs}")
    typer.echo(f"parsed tables, a folder per PARSE job: {Path(parsed.output_path).parent}")
    typer.echo(f"export (Concordance DAT + manifest.json): {export.output_path}")


def _summary(job: object) -> str:
    out = getattr(job, "outputs", None) or {}
    kind = getattr(job, "job_type", "")
    if kind == "data.scan":
        return f"{out.get('files_total', 0)} files, {out.get('new', 0)} new"
    if kind == "data.parse":
        tables = ", ".join(f"{t['table']} {t['rows']}" for t in out.get("tables", []))
        quarantined = out.get("quarantined", 0)
        return f"{Path(out.get('source_file', '')).name}: {tables}" + (
            f", {quarantined} quarantined" if quarantined else ""
        )
    if kind == "data.export":
        return (
            f"{out.get('rows', 0)} records, Bates {out.get('bates_first')}-{out.get('bates_last')}"
        )
    return ""
