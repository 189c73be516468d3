"""``jobsys sync git`` as a user runs it: once, then polling until SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from dulwich import porcelain
from dulwich.repo import Repo

from jobsys.testing import wait_until

from ._cli import Run, clean_environ, jobsys_command

pytestmark = pytest.mark.e2e


def manifest(name: str, message: str = "hi") -> str:
    return (
        f"apiVersion: jobsys/v1\nkind: Job\nmetadata: {{name: {name}}}\n"
        f"steps:\n  - {{name: say, type: demo.echo, with: {{message: {message!r}}}}}\n"
    )


def commit(work: Path, bare: Path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
        porcelain.add(str(work), [str(work / rel)])
    sha = porcelain.commit(str(work), message="c", author=b"A <a@x>", committer=b"A <a@x>")
    branch = porcelain.active_branch(str(work))
    with open("/dev/null", "wb") as sink:
        porcelain.push(
            str(work), str(bare), [b"refs/heads/" + branch + b":refs/heads/main"], errstream=sink
        )
    return sha.decode()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    bare, work = tmp_path / "origin.git", tmp_path / "author"
    Repo.init_bare(str(bare), mkdir=True).close()
    porcelain.init(str(work)).close()
    return bare, work


def names(jobsys: Run) -> list[str]:
    return [t["name"] for t in json.loads(jobsys("templates", "list", "--json").stdout)]


def test_sync_once_applies_then_says_already_applied(jobsys: Run, repo: tuple[Path, Path]) -> None:
    bare, work = repo
    sha = commit(work, bare, {"jobs/a.job.yaml": manifest("alpha")})
    ran = jobsys("sync", "git", "--repo", str(bare), "--ref", "main", "--once")
    assert ran.code == 0, str(ran)
    assert ran.stdout == "created alpha (jobs/a.job.yaml:1)\n"
    assert f"at {sha[:12]}: applied" in ran.stderr
    again = jobsys("sync", "git", "--repo", str(bare), "--once")
    assert (again.code, again.stdout) == (0, "")
    assert "already applied" in again.stderr
    assert names(jobsys) == ["alpha"]


def test_a_bad_manifest_in_the_repository_exits_1(jobsys: Run, repo: tuple[Path, Path]) -> None:
    bare, work = repo
    commit(work, bare, {"a.job.yaml": manifest("alpha"), "b.job.yaml": "kind: Nope\n"})
    ran = jobsys("sync", "git", "--repo", str(bare), "--once")
    assert ran.code == 1
    assert ran.stdout.splitlines()[:2] == [
        "created alpha (a.job.yaml:1)",
        "invalid <document 1> (b.job.yaml:1)",
    ]


def test_an_unknown_ref_is_one_line_and_exit_2(jobsys: Run, repo: tuple[Path, Path]) -> None:
    bare, work = repo
    commit(work, bare, {"a.job.yaml": manifest("alpha")})
    ran = jobsys("sync", "git", "--repo", str(bare), "--ref", "dev", "--once")
    assert ran.code == 2
    assert ran.stderr == "error: --ref dev: no such branch, tag or commit (branches: main)\n"


@pytest.mark.slow
def test_interval_polls_until_sigterm_and_applies_new_commits(
    workdir: Path, repo: tuple[Path, Path], jobsys: Run
) -> None:
    bare, work = repo
    commit(work, bare, {"a.job.yaml": manifest("alpha")})
    args = ["sync", "git", "--repo", str(bare), "--interval", "0.2", "--prune"]
    proc = subprocess.Popen(
        [*jobsys_command(), *args],
        cwd=workdir,
        env=clean_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: names(jobsys) == ["alpha"], 30, 0.2, "the first sync")
        commit(work, bare, {"b.job.yaml": manifest("beta")})
        wait_until(lambda: names(jobsys) == ["alpha", "beta"], 30, 0.2, "the second commit")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out.splitlines() == [
        "created alpha (a.job.yaml:1)",
        "unchanged alpha (a.job.yaml:1)",
        "created beta (b.job.yaml:1)",
    ]
    assert err.rstrip().endswith("stopped")
