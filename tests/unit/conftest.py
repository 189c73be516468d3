"""Unit tests run with no ``JOBSYS_*`` variables and inside an empty directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ``JOBSYS_*`` from the caller's shell and no ``./jobsys.toml``: the defaults apply."""
    for name in list(os.environ):
        if name.startswith("JOBSYS_"):
            monkeypatch.delenv(name)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir
