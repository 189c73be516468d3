"""The CLI as a user runs it: the ``jobsys`` script in a subprocess, or typer's CliRunner.

Every test gets an empty working directory and no ``JOBSYS_*`` variables from the
caller's shell, so the embedded default (SQLite + filesystem broker under
``./.jobsys``) is what runs unless a test says otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobsys.cli import app

from ._cli import Ran, Run, run_jobsys


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty directory to run in."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def jobsys(workdir: Path) -> Run:
    """``jobsys(*args, **env)``: the script, run in ``workdir``."""

    def run(*args: str, timeout: float = 60, **env: str) -> Ran:
        return run_jobsys(list(args), workdir, timeout, **env)

    return run


@pytest.fixture
def cli(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """``cli(*args)``: the typer app in-process, in ``workdir``, with a clean environment."""
    for name in list(os.environ):
        if name.startswith("JOBSYS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(workdir)
    runner = CliRunner()

    def run(*args: str) -> Ran:
        result = runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Ran(list(args), result.exit_code, result.stdout, result.stderr)

    yield run
