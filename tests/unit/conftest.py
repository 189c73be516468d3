"""Unit tests run with no ``JOBSYS_*`` variables and inside an empty directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._api import TOKENS


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


@pytest.fixture
def embedded_client(tmp_path: Path) -> Iterator[Any]:
    """A client on a fresh embedded store, with the API tokens of ``_api``."""
    from jobsys.client import Client
    from jobsys.settings import Settings

    # Route sweeps present many wrong tokens from one address: no lockout here (the lockout
    # has tests of its own in test_api_security.py).
    settings = Settings(home=tmp_path / "home", api_tokens=TOKENS, api_auth_failure_limit=0)
    with Client(settings) as client:
        yield client


@pytest.fixture
def api(embedded_client: Any) -> Iterator[Any]:
    """The API app on ``embedded_client``, through FastAPI's TestClient."""
    from fastapi.testclient import TestClient

    from jobsys.api import create_api

    with TestClient(create_api(client=embedded_client)) as http:
        yield http
