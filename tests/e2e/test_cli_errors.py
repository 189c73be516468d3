"""The CLI's error boundary: one line ``error: ...`` on stderr, the error's exit code, no traceback.

These run the installed ``jobsys`` script, as a user would, against the embedded store
in an empty directory; none needs Redis or PostgreSQL.
"""

from __future__ import annotations

import re

import pytest

from ._cli import Ran, Run

pytestmark = pytest.mark.e2e


def one_error_line(ran: Ran, code: int, pattern: str) -> str:
    """Assert ``ran`` failed with ``code`` and one stderr line matching ``error: <pattern>``."""
    assert ran.code == code, str(ran)
    assert "Traceback" not in ran.stderr, str(ran)
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, str(ran)
    assert re.match(f"error: {pattern}", lines[0]), lines[0]
    return lines[0]


def test_bad_input_names_the_field_and_writes_nothing(jobsys: Run) -> None:
    ran = jobsys("submit", "demo.echo", "-i", "times=x")
    one_error_line(ran, 2, r"demo\.echo: input 'message': Field required")
    assert ran.stdout == ""
    assert jobsys("jobs", "list", "--json").json() == []


def test_a_bad_value_names_its_field(jobsys: Run) -> None:
    ran = jobsys("submit", "demo.echo", "-i", "message=hi", "-i", "times=x")
    one_error_line(ran, 2, r"demo\.echo: input 'times': .*integer")


def test_an_unknown_job_type_lists_the_known_ones(jobsys: Run) -> None:
    line = one_error_line(jobsys("submit", "nope"), 2, r"unknown job type 'nope' \(known: ")
    assert "demo.echo" in line and "jobsys.noop" in line


@pytest.mark.parametrize(
    "args",
    [
        ("jobs", "show", "00000000-0000-0000-0000-000000000000"),
        ("jobs", "show", "abc"),
        ("jobs", "cancel", "abc"),
        ("jobs", "retry", "abc"),
        ("runs", "list", "abc"),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_an_unknown_job_id_exits_4(jobsys: Run, args: tuple[str, ...]) -> None:
    one_error_line(jobsys(*args), 4, f"no job '{args[-1]}'")


def test_an_unreachable_broker_is_named_and_nothing_is_left_behind(jobsys: Run) -> None:
    ran = jobsys("submit", "jobsys.noop", JOBSYS_BROKER_URL="redis://127.0.0.1:1/0")
    one_error_line(ran, 3, r"cannot reach the broker at JOBSYS_BROKER_URL=redis://127\.0\.0\.1:1/0")
    assert jobsys("jobs", "list", "--json").json() == [], "the job's row was removed again"


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://postgres@127.0.0.1:1/jobsys", "nonsense://x"],
)
def test_an_unusable_database_is_named(jobsys: Run, url: str) -> None:
    ran = jobsys("jobs", "list", JOBSYS_DATABASE_URL=url)
    one_error_line(ran, 3, f".*JOBSYS_DATABASE_URL={re.escape(url)}")


def test_a_database_password_is_not_shown(jobsys: Run) -> None:
    url = "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/jobsys"
    ran = jobsys("jobs", "list", JOBSYS_DATABASE_URL=url)
    one_error_line(ran, 3, ".*JOBSYS_DATABASE_URL=")
    assert "s3cret" not in ran.stderr + ran.stdout


def test_a_bad_setting_is_named(jobsys: Run) -> None:
    ran = jobsys("jobs", "list", JOBSYS_WORKER_CONCURRENCY="0")
    one_error_line(ran, 2, "setting JOBSYS_WORKER_CONCURRENCY: ")


def test_a_missing_config_file_is_named(jobsys: Run) -> None:
    ran = jobsys("jobs", "list", JOBSYS_CONFIG="nope.toml")
    one_error_line(ran, 2, "JOBSYS_CONFIG=nope.toml: no such file")


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (("--json", "[1, 2"), "cli: input '--json': not JSON"),
        (("--json", "[1, 2]"), "cli: input '--json': must be a JSON object"),
        (("-i", "message"), "cli: input '--input': 'message' is not key=value"),
    ],
)
def test_malformed_command_line_inputs(jobsys: Run, args: tuple[str, ...], pattern: str) -> None:
    one_error_line(jobsys("submit", "demo.echo", *args), 2, re.escape(pattern))


def test_a_usage_error_is_not_a_traceback(jobsys: Run) -> None:
    ran = jobsys("submit")
    assert ran.code == 2
    assert "Traceback" not in ran.stderr
    assert "Missing argument" in ran.stderr


def test_cancelling_twice_is_an_invalid_transition(jobsys: Run) -> None:
    submitted = jobsys("submit", "jobsys.noop")
    assert submitted.code == 0, str(submitted)
    job_id = submitted.stdout.strip()
    first = jobsys("jobs", "cancel", job_id[:8])
    assert (first.code, first.stdout.strip()) == (0, f"{job_id} CANCELLED (was QUEUED)")
    one_error_line(
        jobsys("jobs", "cancel", job_id), 5, f"job {job_id} cannot go from CANCELLED to CANCELLED"
    )


def test_waiting_for_a_job_no_worker_serves_times_out(jobsys: Run) -> None:
    ran = jobsys("submit", "demo.render", "--wait", "--timeout", "0.5")
    one_error_line(ran, 6, "job .* still QUEUED after 0.5s")


def test_lint_prints_each_problem_located_and_exits_1(jobsys: Run, tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.job.yaml"
    bad.write_text(
        "apiVersion: jobsys/v1\nkind: Job\nmetadata: {name: x}\n"
        "steps: [{name: a, type: demo.nope}]\n"
    )
    ran = jobsys("lint", str(bad))
    assert ran.code == 1, str(ran)
    assert f"{bad}:4:" in ran.stdout and "unknown-job-type" in ran.stdout
    assert "Traceback" not in ran.stderr


def test_lint_of_the_shipped_manifests_exits_0(jobsys: Run) -> None:
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "config" / "manifests"
    ran = jobsys("lint", str(shipped))
    assert ran.code == 0, str(ran)
    assert "0 problem(s)" in ran.stderr
