"""``jobsys demo`` from an empty directory, on the embedded default, twice; then its history.

The demo starts its own worker process (filesystem broker, SQLite store under
``./.jobsys``), so this is the first thing a user runs after ``pip install -e .``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from ._cli import Ran, run_jobsys

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: what each demo job does, and the status it must end in
EXPECTED = {
    "succeeds": ("demo.echo", "COMPLETED"),
    "fails fatally": ("demo.explode", "FAILED"),
    "retries, then succeeds": ("demo.flaky", "COMPLETED"),
    "no-op": ("jobsys.noop", "COMPLETED"),
    "waits for a capability": ("demo.render", "QUEUED"),
}


class Demo:
    """Two runs of ``jobsys demo`` in one directory, and the jobs they left."""

    def __init__(self, cwd: Path, first: Ran, second: Ran) -> None:
        self.cwd, self.first, self.second = cwd, first, second

    def run(self, *args: str) -> Ran:
        return run_jobsys(list(args), self.cwd)

    @cached_property
    def _jobs(self) -> list[dict[str, Any]]:
        ran = self.run("jobs", "list", "--json", "--limit", "100")
        assert ran.code == 0, str(ran)
        jobs: list[dict[str, Any]] = ran.json()
        return jobs

    def jobs(self) -> list[dict[str, Any]]:
        """Every job both demos left (read once: nothing changes them afterwards)."""
        return self._jobs

    def job_of(self, job_type: str) -> dict[str, Any]:
        return next(j for j in self.jobs() if j["job_type"] == job_type)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    cwd = tmp_path_factory.mktemp("fresh-clone")
    first = run_jobsys(["demo"], cwd, timeout=100)
    second = run_jobsys(["demo"], cwd, timeout=100)
    yield Demo(cwd, first, second)


def table_row(stdout: str, job_type: str) -> str:
    """The first line of the demo table's row for a job type (the note may wrap below it)."""
    lines = stdout.splitlines()
    i = next(i for i, line in enumerate(lines) if f" {job_type} " in line)
    row = [lines[i]]
    for line in lines[i + 1 :]:  # continuation lines of a wrapped row start with an empty id cell
        if not line.startswith("│          │"):
            break
        row.append(line)
    return " ".join(" ".join(cell.strip() for cell in r.split("│")) for r in row)


def test_the_demo_exits_0_and_prints_each_jobs_expected_status(demo: Demo) -> None:
    ran = demo.first
    assert ran.code == 0, str(ran)
    assert "Traceback" not in ran.stderr
    for job_type, status in EXPECTED.values():
        row = table_row(ran.stdout, job_type)
        assert status in row, row
    waiting = " ".join(table_row(ran.stdout, "demo.render").split())
    assert "waiting for capability demo.gpu@1" in waiting, waiting
    assert "demo finished" in ran.stdout


def test_the_demo_uses_the_embedded_store_and_broker_under_dot_jobsys(demo: Demo) -> None:
    home = demo.cwd / ".jobsys"
    assert f"store: sqlite:///{home / 'jobsys.db'}" in demo.first.stdout
    assert "broker: filesystem://" in demo.first.stdout
    assert (home / "jobsys.db").is_file()
    assert sorted(p.name for p in demo.cwd.iterdir()) == [".jobsys"], "nothing else is created"


def test_running_the_demo_again_in_the_same_directory_works(demo: Demo) -> None:
    assert demo.second.code == 0, str(demo.second)
    demo_types = {job_type for job_type, _ in EXPECTED.values()}
    jobs = [j for j in demo.jobs() if j["job_type"] in demo_types]
    assert len(jobs) == 2 * len(EXPECTED)
    by_type: dict[str, list[str]] = {}
    for job in jobs:
        by_type.setdefault(job["job_type"], []).append(job["status"])
    assert by_type == {job_type: [status] * 2 for job_type, status in EXPECTED.values()}
    data = sorted(j["job_type"] for j in demo.jobs() if j["job_type"].startswith("data."))
    assert data == ["data.export"] * 2 + ["data.parse"] * 6 + ["data.scan"] * 2


def test_the_flaky_job_has_one_run_per_attempt(demo: Demo) -> None:
    job = demo.job_of("demo.flaky")
    ran = demo.run("runs", "list", "--json", job["id"])
    assert ran.code == 0, str(ran)
    runs = ran.json()
    assert [(r["attempt"], r["status"]) for r in runs] == [(1, "FAILED"), (2, "COMPLETED")]
    assert runs[0]["error_type"] == "RetryableJobError"
    assert "engine busy on attempt 1" in runs[0]["error"]
    for run in runs:
        assert run["job_id"] == job["id"]
        assert run["params_snapshot"] == {"succeed_on_attempt": 2}
        assert run["worker_id"] and run["duration_ms"] is not None
        assert run["started_at"] <= run["finished_at"]


def test_the_fatal_job_failed_once_with_its_reason(demo: Demo) -> None:
    job = demo.job_of("demo.explode")
    runs = demo.run("runs", "list", "--json", job["id"][:8]).json()
    assert [(r["attempt"], r["status"]) for r in runs] == [(1, "FAILED")]
    assert runs[0]["error"].startswith("source file is unreadable")
    assert job["error"].startswith("source file is unreadable")


def test_the_echo_jobs_outputs_were_published(demo: Demo) -> None:
    job_id = demo.job_of("demo.echo")["id"]
    ran = demo.run("jobs", "show", "--json", job_id)
    assert ran.code == 0, str(ran)
    shown = ran.json()
    assert shown["outputs"] == {"lines": 3, "file": "echo.txt"}
    published = Path(shown["output_path"])
    assert published.parent == demo.cwd / ".jobsys" / "outputs" / "demo.echo"
    assert (published / "echo.txt").read_text() == "hello from jobsys\n" * 3
    assert shown["output_size_bytes"] == len("hello from jobsys\n") * 3
    assert [r["status"] for r in shown["runs"]] == ["COMPLETED"]
    assert not (demo.cwd / ".jobsys" / ".staging" / job_id).exists()


def test_jobs_show_prints_a_readable_job(demo: Demo) -> None:
    ran = demo.run("jobs", "show", demo.job_of("demo.render")["id"][:8])
    assert ran.code == 0, str(ran)
    assert "demo.gpu@1" in ran.stdout
    assert "waiting for capability demo.gpu@1" in ran.stdout


def test_json_output_is_plain_json(demo: Demo) -> None:
    ran = demo.run("jobs", "list", "--json")
    parsed = json.loads(ran.stdout)
    assert isinstance(parsed, list) and parsed
    assert {"id", "job_type", "status", "params", "created_at"} <= set(parsed[0])


def test_the_demo_runs_the_fix_pipeline_and_says_where_its_outputs_are(demo: Demo) -> None:
    out = demo.first.stdout
    assert "data pipeline fix-pipeline: SCAN → forEach PARSE → EXPORT" in out
    home = demo.cwd / ".jobsys"
    logs = home / "demo" / "fix_logs"
    assert f"FIX logs: {logs}" in out
    assert sorted(p.name for p in logs.iterdir()) == ["venue_1.log", "venue_2.log", "venue_3.log"]
    export = demo.job_of("data.export")  # of either run
    shown = demo.run("jobs", "show", "--json", export["id"]).json()
    both = out + demo.second.stdout
    assert f"export (Concordance DAT + manifest.json): {shown['output_path']}" in both
    assert (shown["outputs"]["bates_first"], shown["outputs"]["bates_last"]) == (
        "DEMO000001",
        "DEMO000300",
    )
    dat = Path(shown["output_path"]) / "orders.dat"
    assert len(dat.read_bytes().decode("utf-8-sig").split("\r\n")) == 302  # header, 300, ""
    parses = [j for j in demo.jobs() if j["job_type"] == "data.parse"]
    assert (
        sorted(j["status"] for j in parses) == ["COMPLETED"] * 4 + ["COMPLETED_WITH_WARNINGS"] * 2
    )
    assert not any((home / ".staging").iterdir()) if (home / ".staging").exists() else True
