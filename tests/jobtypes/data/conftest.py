"""A catalog per test, and generated sources: FIX logs (SOH and ``|``), typed CSV and JSON Lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.data import samples


@pytest.fixture
def catalog(tmp_path: Path) -> str:
    """The path of the test's own catalog database (created on first use)."""
    return str(tmp_path / "catalog.sqlite")


@pytest.fixture
def fix_dir(tmp_path: Path) -> Path:
    """Three small FIX logs: two SOH-delimited, one ``|``-delimited."""
    folder = tmp_path / "fix_logs"
    samples.write_fix_log(folder / "venue_a.log", 100, seed=1)
    samples.write_fix_log(folder / "venue_b.log", 100, seed=2)
    samples.write_fix_log(folder / "venue_c.log", 100, seed=3, delimiter="|")
    return folder


@pytest.fixture
def trades_csv(tmp_path: Path) -> Path:
    """200 clean rows of the TRADES contract."""
    return samples.write_csv(tmp_path / "trades.csv", 200)
