"""``jobsys demo``: a worker, a handful of jobs, and what happened to each."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import typer

from jobsys.cli import demo_data, render
from jobsys.client import Client
from jobsys.errors import JobsysError
from jobsys.lifecycle import JOB_TERMINAL
from jobsys.runtime import Runtime
from jobsys.settings import load_settings

DEMO_CAPABILITIES = ("demo.basic@1", "jobsys.noop@1")


class DemoFailed(JobsysError):
    """The demo did not end as it should."""


def _start_worker(
    home: Path, name: str, log: Path, capabilities: tuple[str, ...]
) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "jobsys", "worker", "--concurrency", "2", "--name", name]
    for cap in capabilities:
        args += ["--capability", cap]
    env = {**os.environ, "JOBSYS_HOME": str(home)}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_ready(client: Client, proc: subprocess.Popen[bytes], name: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:]
            raise DemoFailed(f"the demo worker exited ({proc.returncode}): {' '.join(tail)}")
        if client.runtime.app.control.ping(destination=[name], timeout=0.5):
            return
    raise DemoFailed(f"the demo worker did not answer within 60s; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def demo(
    home: Path | None = typer.Option(None, help="Where the store and broker live (JOBSYS_HOME)."),
    timeout: float = typer.Option(60.0, help="Seconds to wait for the jobs."),
) -> None:
    """Start a worker, run jobs that succeed, fail, retry and wait, and a data pipeline
    (scan → parse each FIX log → export); print their history and where outputs are."""
    settings = load_settings(**({"home": home} if home else {}))
    runtime = Runtime(settings)
    client = Client(runtime=runtime)
    runtime.engine  # noqa: B018 - creates the SQLite store on first run
    home_dir = settings.resolved_home
    name = f"jobsys-demo-{os.getpid()}@{socket.gethostname()}"
    log = settings.logs_root / "demo-worker.log"
    typer.echo(f"store: {settings.effective_database_url}")
    typer.echo(f"broker: {settings.effective_broker_url} (worker log: {log})")
    no_data = demo_data.available()
    capabilities = DEMO_CAPABILITIES + (demo_data.CAPABILITIES if no_data is None else ())
    proc = _start_worker(home_dir, name, log, capabilities)
    pipeline: demo_data.Started | None = None
    try:
        _wait_ready(client, proc, name, log)
        if no_data is None:
            pipeline = demo_data.start(client, home_dir)
        jobs = {
            "succeeds": client.submit("demo.echo", message="hello from jobsys", times=3),
            "fails fatally": client.submit("demo.explode", reason="source file is unreadable"),
            "retries, then succeeds": client.submit("demo.flaky", succeed_on_attempt=2),
            "no-op": client.submit("jobsys.noop"),
            "waits for a capability": client.submit("demo.render", scene="teapot"),
        }
        for label, handle in jobs.items():
            if label != "waits for a capability":
                handle.wait(timeout)
        pipeline_state = demo_data.wait(client, pipeline, timeout) if pipeline else None
    finally:
        _stop(proc)
    rows = {label: client.job(h.id) for label, h in jobs.items()}
    waiting = {"demo.gpu@1"}
    render.table(
        "demo jobs",
        ["job", "type", "status", "tries", "note"],
        [
            (
                j.id[:8],
                j.job_type,
                render.status(j.status),
                j.attempt,
                render.job_note(j, waiting),
            )
            for j in rows.values()
        ],
    )
    render.table(
        "their runs (one row per attempt)",
        ["job", "type", "attempt", "status", "ms", "error"],
        [
            (j.id[:8], j.job_type, r.attempt, render.status(r.status), r.duration_ms, r.error or "")
            for j in rows.values()
            for r in client.runs(j.id)
        ],
    )
    expected = {
        "succeeds": "COMPLETED",
        "fails fatally": "FAILED",
        "retries, then succeeds": "COMPLETED",
        "no-op": "COMPLETED",
        "waits for a capability": "QUEUED",
    }
    wrong = [f"{k}: {rows[k].status}" for k, v in expected.items() if rows[k].status != v]
    if wrong:
        raise DemoFailed("unexpected outcome: " + "; ".join(wrong))
    assert all(rows[k].status in {s.value for s in JOB_TERMINAL} for k in list(expected)[:4])
    typer.echo(f"outputs of the echo job: {rows['succeeds'].output_path}")
    if pipeline is not None and pipeline_state is not None:
        demo_data.report(client, pipeline, pipeline_state)
    else:
        typer.echo(f"data pipeline not shown: {no_data}")
    typer.echo("demo finished: run `jobsys jobs list` to see every job so far.")
