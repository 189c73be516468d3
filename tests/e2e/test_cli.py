"""The CLI's happy paths, in-process with typer's CliRunner, on the embedded store (no worker)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ._cli import Run

pytestmark = pytest.mark.e2e

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def submit(cli: Run, *args: str) -> str:
    ran = cli("submit", *args)
    assert ran.code == 0, str(ran)
    job_id = ran.stdout.strip()
    assert UUID.match(job_id), ran.stdout
    return job_id


def test_submit_prints_the_id_and_the_job_is_listed_as_json(cli: Run, workdir: Path) -> None:
    job_id = submit(cli, "demo.echo", "-i", "message=hi", "--input", "times=2", "--priority", "7")
    ran = cli("jobs", "list", "--json")
    assert ran.code == 0
    [job] = json.loads(ran.stdout)
    assert job["id"] == job_id
    assert (job["job_type"], job["status"], job["priority"]) == ("demo.echo", "QUEUED", 7)
    assert job["params"] == {"message": "hi", "times": 2}
    assert (workdir / ".jobsys" / "jobsys.db").is_file()


def test_submit_takes_a_json_object_with_key_value_pairs_on_top(cli: Run) -> None:
    job_id = submit(cli, "demo.echo", "--json", '{"message": "a", "times": 4}', "-i", "message=b")
    shown = json.loads(cli("jobs", "show", "--json", job_id).stdout)
    assert shown["params"] == {"message": "b", "times": 4}
    assert shown["runs"] == []


def test_jobs_list_filters_by_status_and_type(cli: Run) -> None:
    noop = submit(cli, "jobsys.noop")
    echo = submit(cli, "demo.echo", "-i", "message=x")
    assert cli("jobs", "cancel", noop).code == 0

    def ids(*args: str) -> list[str]:
        return [j["id"] for j in json.loads(cli("jobs", "list", "--json", *args).stdout)]

    assert set(ids()) == {noop, echo}
    assert ids("--status", "cancelled") == [noop]
    assert ids("--type", "demo.echo") == [echo]
    assert ids("--status", "FAILED") == []


def test_runs_list_of_a_job_that_never_ran_is_an_empty_json_list(cli: Run) -> None:
    job_id = submit(cli, "jobsys.noop")
    ran = cli("runs", "list", "--json", job_id[:10])
    assert (ran.code, json.loads(ran.stdout)) == (0, [])


def test_jobs_list_says_which_capability_a_queued_job_waits_for(cli: Run) -> None:
    submit(cli, "demo.render")
    ran = cli("jobs", "list")
    assert ran.code == 0
    assert "waiting for capability demo.gpu@1 (no worker serves it)" in ran.stdout


def test_a_cancelled_job_can_be_retried(cli: Run) -> None:
    job_id = submit(cli, "jobsys.noop")
    assert cli("jobs", "cancel", job_id).stdout.strip() == f"{job_id} CANCELLED (was QUEUED)"
    assert cli("jobs", "retry", job_id).stdout.strip() == f"{job_id} QUEUED"
    shown = json.loads(cli("jobs", "show", "--json", job_id).stdout)
    assert shown["status"] == "QUEUED"


def test_types_lists_every_builtin_job_type_with_its_capability(cli: Run) -> None:
    ran = cli("types")
    assert ran.code == 0
    for name, capability in [
        ("jobsys.noop", "jobsys.noop@1"),
        ("demo.echo", "demo.basic@1"),
        ("demo.render", "demo.gpu@1"),
    ]:
        assert re.search(rf"{re.escape(name)}\s.*{re.escape(capability)}", ran.stdout), name


def test_capabilities_as_json(cli: Run) -> None:
    submit(cli, "demo.render")
    ran = cli("capabilities", "--json", "--timeout", "0.3")
    assert ran.code == 0
    infos = {c["capability"]: c for c in json.loads(ran.stdout)}
    assert {"demo.basic@1", "demo.gpu@1", "jobsys.noop@1"} <= set(infos)
    gpu = infos["demo.gpu@1"]
    assert (gpu["job_types"], gpu["queued"], gpu["running"], gpu["workers"]) == (
        ["demo.render"],
        1,
        0,
        [],
    )
