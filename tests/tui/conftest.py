"""Fixtures of the jobs view's tests: a store seeded with one job of each kind, its app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobsys.client import Client
from jobsys.testing import settings_from_env
from jobsys.tui.app import JobsApp

from ._store import NOW, fill


@pytest.fixture
def seeded_client(tmp_path: Path) -> Iterator[Client]:
    """A client on an embedded SQLite store holding ``_store.rows``."""
    env = {"JOBSYS_HOME": str(tmp_path / "home")}
    with Client(settings_from_env(env)) as client:
        fill(client.runtime.engine, tmp_path / "stop-backtest")
        yield client


def seeded_app(client: Client, **kw: Any) -> JobsApp:
    """The view at the store's fixed time, the thumbnails capability served by no worker."""
    kw.setdefault("poll_interval", 3600.0)  # one poll, then one per poll_now(): same frames
    return JobsApp(
        client, clock=lambda: NOW, waiting=lambda: frozenset({"media.thumbnails@1"}), **kw
    )


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests run on asyncio (anyio's pytest plugin runs the ``async def`` tests)."""
    return "asyncio"
