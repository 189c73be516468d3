"""The view on an empty store, an unreachable one, and a seeded one (backtest, export keys)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobsys.client import Client
from jobsys.testing import settings_from_env
from jobsys.tui.app import JobsApp
from jobsys.tui.screens.confirm import ConfirmScreen

from ._pilot import first_poll, highlighted, listed, text_of, until
from .conftest import seeded_app

pytestmark = pytest.mark.anyio


async def test_empty_store_says_so(tmp_path: Path) -> None:
    with Client(settings_from_env({"JOBSYS_HOME": str(tmp_path)})) as client:
        app = JobsApp(client, waiting=frozenset)
        async with app.run_test(size=(80, 24)) as pilot:
            await first_poll(pilot)
            assert listed(app) == ["no jobs yet: submit one (jobsys submit …) and it shows here"]
            assert "0 running" in text_of(app, "#status")
            for key in ("j", "k", "g", "G", "enter", "l", "R", "c", "S", "y", "o", "x"):
                await pilot.press(key)
            assert app.is_running


async def test_unreachable_store_shows_a_message_and_retries(tmp_path: Path) -> None:
    env = {
        "JOBSYS_HOME": str(tmp_path),
        # nothing listens on port 9: the connection is refused at once
        "JOBSYS_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/jobsys",
    }
    with Client(settings_from_env(env)) as client:
        app = JobsApp(client, poll_interval=0.05, waiting=frozenset)
        async with app.run_test(size=(80, 24)) as pilot:
            await first_poll(pilot)
            await until(pilot, lambda: app.polls >= 3)
            notice = text_of(app, "#notice")
            assert "store unreachable" in notice and "JOBSYS_DATABASE_URL" in notice
            assert "retrying" in notice
            await pilot.press("enter", "m", "escape", "question_mark", "escape")
            assert app.is_running


async def test_s_stops_a_running_backtest_through_its_stop_file(
    seeded_client: Client, tmp_path: Path
) -> None:
    app = seeded_app(seeded_client)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        await pilot.press("f", *"backtest running", "enter")
        assert highlighted(app).startswith("↻ BACKTEST")
        await pilot.press("S")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert not (tmp_path / "stop-backtest").exists()
        await pilot.press("S", "y")
        await until(pilot, lambda: (tmp_path / "stop-backtest").exists())


async def test_o_on_a_completed_export_names_its_folder(seeded_client: Client) -> None:
    app = seeded_app(seeded_client)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        await pilot.press("f", *"export done", "enter", "o")
        messages = [n.message for n in app._notifications]
        # no desktop here: the view says where the export is instead of opening it
        assert any("/srv/jobsys/outputs/production_000" in m for m in messages)


async def test_seeded_rendering_per_job_type(seeded_client: Client) -> None:
    app = seeded_app(seeded_client)
    async with app.run_test(size=(160, 48)) as pilot:
        await first_poll(pilot)
        entries = listed(app)
        assert entries[0].startswith("✗ PARSE")
        assert "First failure: venue_nyse_20240115.log" in entries[0]
        assert entries[1].startswith("✗ BACKTEST") and "Early stop" in entries[1]
        backtest = next(e for e in entries if e.startswith("↻ BACKTEST"))
        assert "87%" in backtest and "Pass: 108/124 files" in backtest
        export = next(e for e in entries if e.startswith("↻ EXPORT"))
        assert "67%" in export and "30,521/45,782 records • ETA 6m" in export
        done = next(e for e in entries if e.startswith("✓ EXPORT"))
        assert "(156 MB)" in done and "Bates SMITH000001-SMITH045782" in done
        parse = next(e for e in entries if e.startswith("✓ PARSE"))
        assert "/srv/jobsys/outputs/fix_orders (847 MB)" in parse
        passed = next(e for e in entries if e.startswith("✓ BACKTEST"))
        assert "Pass rate: 99.2% (496/500) • All high-failure resolved" in passed
        assert any("waiting for capability media.thumbnails@1" in e for e in entries)
        assert "✓ SCAN      /data/fix_logs • 1,247 files" in "\n".join(entries)
