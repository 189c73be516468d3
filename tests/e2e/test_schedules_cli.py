"""``jobsys schedules`` and ``jobsys beat``, as a user runs them (embedded store and broker)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from jobsys.testing import wait_until

from ._cli import Run, clean_environ, jobsys_command

pytestmark = pytest.mark.e2e

MANIFEST = (
    "apiVersion: jobsys/v1\nkind: Job\nmetadata: {name: report}\n"
    "trigger: {type: cron, cron: '30 2 * * *', timezone: Europe/Paris}\n"
    "params: {message: hi}\n"
    "steps:\n  - {name: say, type: demo.echo, with: {message: '${{ params.message }}'}}\n"
)


@pytest.fixture
def applied(jobsys: Run, workdir: Path) -> None:
    (workdir / "report.job.yaml").write_text(MANIFEST)
    ran = jobsys("apply", "-f", "report.job.yaml")
    assert ran.code == 0, str(ran)


def test_apply_makes_the_triggers_schedule_and_create_adds_one(jobsys: Run, applied: None) -> None:
    ran = jobsys(
        "schedules", "create", "morning", "--template", "report", "--cron", "0 9 * * *",
        "--timezone", "Asia/Tokyo", "--param", "message=good morning",
    )  # fmt: skip
    assert ran.code == 0, str(ran)
    assert ran.stdout.startswith("created morning (ENABLED): 0 9 * * * (Asia/Tokyo), next ")
    assert ran.stdout.strip().endswith("09:00:00 JST")

    listed = jobsys("schedules", "list")
    assert listed.code == 0, str(listed)
    report = next(line for line in listed.stdout.splitlines() if line.startswith("│ report "))
    # next trigger in the schedule's timezone (02:30 in Paris) and in UTC (01:30 or 00:30)
    assert "02:30:00 CE" in report
    assert "01:30:00" in report or "00:30:00" in report

    rows = json.loads(jobsys("schedules", "list", "--json").stdout)
    assert [(r["name"], r["template_name"], r["status"]) for r in rows] == [
        ("morning", "report", "ENABLED"),
        ("report", "report", "ENABLED"),
    ]
    shown = json.loads(jobsys("schedules", "show", "morning", "--json").stdout)
    assert shown["param_overrides"] == {"message": "good morning"}

    updated = jobsys("schedules", "update", "morning", "--every", "3600", "-p", "message=later")
    assert updated.code == 0, str(updated)
    assert updated.stdout.startswith("updated morning (ENABLED): every 3600s, next ")
    shown = json.loads(jobsys("schedules", "show", "morning", "--json").stdout)
    assert (shown["cron_expression"], shown["interval_seconds"]) == (None, 3600)
    assert shown["param_overrides"] == {"message": "later"}


def test_disable_enable_run_now_delete(jobsys: Run, applied: None) -> None:
    assert jobsys("schedules", "disable", "report").stdout == "disabled report\n"
    shown = json.loads(jobsys("schedules", "show", "report", "--json").stdout)
    assert (shown["status"], shown["next_trigger_at"]) == ("DISABLED", None)
    assert jobsys("schedules", "enable", "report").stdout.startswith("enabled report: next ")

    run_id = jobsys("schedules", "run-now", "report").stdout.strip()
    shown = json.loads(jobsys("runs", "show", run_id, "--json").stdout)
    schedule = json.loads(jobsys("schedules", "show", "report", "--json").stdout)
    assert shown["schedule_id"] == schedule["id"]
    assert [j["schedule_id"] for j in shown["jobs"]] == [schedule["id"]]
    assert schedule["last_triggered_at"] is not None

    assert jobsys("schedules", "delete", "report").stdout == "deleted report\n"
    assert json.loads(jobsys("schedules", "list", "--json").stdout) == []
    gone = jobsys("schedules", "show", "report")
    assert (gone.code, gone.stderr) == (4, "error: no schedule 'report'\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cron", "61 * * * *"], "error: schedule bad: input 'cron': '61 * * * *': Bad minute\n"),
        (
            ["--cron", "0 9 * * *", "--timezone", "Mars/Base"],
            "error: schedule bad: input 'timezone': unknown IANA timezone 'Mars/Base'\n",
        ),
        (
            ["--every", "5", "--overlap", "sometimes"],
            "error: schedule: input 'overlap': 'sometimes': must be one of allow, skip, queue\n",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    jobsys: Run, applied: None, args: list[str], message: str
) -> None:
    ran = jobsys("schedules", "create", "bad", "--template", "report", *args)
    assert (ran.code, ran.stderr) == (2, message)
    names = [r["name"] for r in json.loads(jobsys("schedules", "list", "--json").stdout)]
    assert names == ["report"]


def test_jobsys_beat_fires_an_every_second_schedule(
    jobsys: Run, applied: None, workdir: Path
) -> None:
    created = jobsys("schedules", "create", "tick", "--template", "report", "--every", "1")
    assert created.code == 0, str(created)
    log = (workdir / "beat.log").open("wb")
    beat = subprocess.Popen(
        [*jobsys_command(), "beat", "--max-interval", "0.5"],
        cwd=workdir,
        env=clean_environ(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def fired_twice() -> bool:
            shown = json.loads(jobsys("schedules", "show", "tick", "--json").stdout)
            first = shown["last_triggered_at"]
            return first is not None and first != fired_twice.__dict__.setdefault("first", first)

        wait_until(fired_twice, 30, 0.3, "two firings of tick")
    finally:
        beat.terminate()
        beat.wait(20)
        log.close()
    assert "beat: schedule tick fired for" in (workdir / "beat.log").read_text()
