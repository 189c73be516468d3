"""``jobsys apply``, ``jobsys diff`` and ``jobsys templates``, as a user runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ._cli import Run, clean_environ, jobsys_command

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def manifest(name: str, message: str = "hi") -> str:
    return (
        f"apiVersion: jobsys/v1\nkind: Job\nmetadata: {{name: {name}}}\n"
        f"steps:\n  - {{name: say, type: demo.echo, with: {{message: {message!r}}}}}\n"
    )


@pytest.fixture
def jobs(workdir: Path) -> Path:
    path = workdir / "jobs"
    (path / "team").mkdir(parents=True)
    (path / "a.job.yaml").write_text(manifest("alpha"))
    (path / "team" / "b.job.yaml").write_text(manifest("beta") + "---\n" + manifest("gamma"))
    return path


def test_apply_a_directory_prints_a_line_per_document_then_unchanged(
    jobsys: Run, jobs: Path
) -> None:
    ran = jobsys("apply", "-f", "jobs")
    assert ran.code == 0, str(ran)
    assert ran.stdout.splitlines() == [
        "created alpha (jobs/a.job.yaml:1)",
        "created beta (jobs/team/b.job.yaml:1)",
        "created gamma (jobs/team/b.job.yaml:7)",
    ]
    again = jobsys("apply", "-f", "jobs")
    assert [line.split()[0] for line in again.stdout.splitlines()] == ["unchanged"] * 3


def test_an_invalid_document_exits_1_and_the_others_still_apply(jobsys: Run, jobs: Path) -> None:
    (jobs / "team" / "b.job.yaml").write_text(
        manifest("beta").replace("demo.echo", "demo.nope") + "---\n" + manifest("gamma")
    )
    ran = jobsys("apply", "-f", "jobs")
    assert ran.code == 1, str(ran)
    lines = ran.stdout.splitlines()
    assert lines[0] == "created alpha (jobs/a.job.yaml:1)"
    assert lines[1] == "invalid beta (jobs/team/b.job.yaml:1)"
    assert lines[2].startswith("  jobs/team/b.job.yaml:5:") and "unknown-job-type" in lines[2]
    assert lines[3] == "created gamma (jobs/team/b.job.yaml:7)"
    listed = json.loads(jobsys("templates", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["alpha", "gamma"]


def test_diff_shows_a_unified_diff_and_exit_code_says_whether_apply_would_change(
    jobsys: Run, jobs: Path
) -> None:
    assert jobsys("apply", "-f", "jobs").code == 0
    assert jobsys("diff", "-f", "jobs", "--exit-code").code == 0
    (jobs / "a.job.yaml").write_text(manifest("alpha", "changed"))
    plain = jobsys("diff", "-f", "jobs")
    assert plain.code == 0, str(plain)
    assert "--- alpha (stored)\n+++ alpha (jobs/a.job.yaml:1)\n" in plain.stdout
    assert "-    message: hi\n+    message: changed\n" in plain.stdout
    assert jobsys("diff", "-f", "jobs", "--exit-code").code == 1
    # diff wrote nothing
    shown = json.loads(jobsys("templates", "show", "alpha", "--json").stdout)
    assert shown["definition"]["steps"][0]["with"] == {"message": "hi"}


def test_prune_force_conflict_and_the_protect_label(jobsys: Run, jobs: Path, workdir: Path) -> None:
    keep = manifest("kept").replace(
        "metadata: {name: kept}", "metadata:\n  name: kept\n  labels: {jobsys/protect: 'true'}"
    )
    (jobs / "keep.job.yaml").write_text(keep)
    assert jobsys("apply", "-f", "jobs").code == 0
    (jobs / "keep.job.yaml").unlink()
    (jobs / "team" / "b.job.yaml").unlink()
    (workdir / "mine.job.yaml").write_text(manifest("alpha", "mine"))

    conflict = jobsys("apply", "-f", "mine.job.yaml")
    assert conflict.code == 1
    assert conflict.stdout.startswith("conflict alpha (mine.job.yaml:1): owned by ")

    dry = jobsys("apply", "-f", "jobs", "--prune", "--dry-run")
    assert dry.code == 0 and "pruned beta" in dry.stdout and "nothing written" in dry.stderr
    assert len(json.loads(jobsys("templates", "list", "--json").stdout)) == 4

    pruned = jobsys("apply", "-f", "jobs", "--prune")
    assert pruned.code == 0, str(pruned)
    assert [line.split()[:2] for line in pruned.stdout.splitlines()] == [
        ["unchanged", "alpha"],
        ["pruned", "beta"],
        ["pruned", "gamma"],
        ["protected", "kept"],
    ]
    assert jobsys("apply", "-f", "mine.job.yaml", "--force").stdout.startswith("updated alpha")
    names = [t["name"] for t in json.loads(jobsys("templates", "list", "--json").stdout)]
    assert names == ["alpha", "kept"]
    listed_all = json.loads(jobsys("templates", "list", "--all", "--json").stdout)
    assert {t["name"]: t["status"] for t in listed_all} == {
        "alpha": "ACTIVE",
        "beta": "ARCHIVED",
        "gamma": "ARCHIVED",
        "kept": "ACTIVE",
    }


def test_apply_from_stdin(workdir: Path) -> None:
    ran = subprocess.run(
        [*jobsys_command(), "apply", "-f", "-"],
        input=manifest("piped"),
        cwd=workdir,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "created piped (<stdin>:1)\n"


def test_templates_list_show_and_archive(cli: Run, jobs: Path) -> None:
    assert cli("apply", "-f", str(jobs)).code == 0
    table = cli("templates", "list")
    assert table.code == 0 and "alpha" in table.stdout and "demo.echo" in table.stdout
    show = cli("templates", "show", "alpha")
    assert "status: ACTIVE" in show.stdout and "provenance:" in show.stdout
    archived = cli("templates", "archive", "alpha")
    assert archived.stdout == "archived alpha\n"
    assert [t["name"] for t in json.loads(cli("templates", "list", "--json").stdout)] == [
        "beta",
        "gamma",
    ]


def test_unknown_template_and_archiving_twice_are_one_line_errors(jobsys: Run, jobs: Path) -> None:
    assert jobsys("apply", "-f", "jobs").code == 0
    missing = jobsys("templates", "show", "nope")
    assert (missing.code, missing.stderr) == (4, "error: no template 'nope'\n")
    assert jobsys("templates", "archive", "alpha").code == 0
    twice = jobsys("templates", "archive", "alpha")
    assert twice.code == 5 and "cannot go from ARCHIVED to ARCHIVED" in twice.stderr


def test_the_shipped_manifests_apply(jobsys: Run) -> None:
    ran = jobsys("apply", "-f", str(REPO / "config" / "manifests"))
    assert ran.code == 0, str(ran)
    assert "created demo-pipeline" in ran.stdout
