"""Every key and state of seed 001 §6–§7, driven by Pilot, on a store filled by real jobs.

A real ``jobsys worker`` (embedded: SQLite store, filesystem broker) runs the jobs: one
that writes an output, one that fails, a data scan, one that runs for a while with
progress, and one whose capability no worker serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from textual.widgets import Input

from jobsys.client import Client
from jobsys.testing import WorkerProcess, settings_from_env, wait_until
from jobsys.tui.app import JobsApp
from jobsys.tui.screens.confirm import ConfirmScreen
from jobsys.tui.screens.detail import DetailScreen
from jobsys.tui.screens.filter import FilterScreen
from jobsys.tui.screens.help import HelpScreen
from jobsys.tui.screens.jobs import JobsScreen
from jobsys.tui.screens.logs import LogScreen
from jobsys.tui.screens.monitor import MonitorScreen

from ._pilot import first_poll, highlighted, listed, text_of, until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.anyio]


@dataclass
class Filled:
    """The store, its worker, and the ids of its jobs."""

    env: dict[str, str]
    client: Client
    worker: WorkerProcess
    echo: str
    explode: str
    scan: str
    render: str
    sleep: str


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    """Jobs run by a real worker; the slow one is still running when the tests start."""
    base = tmp_path_factory.mktemp("ui")
    env = {"JOBSYS_HOME": str(base / "home"), "JOBSYS_HEARTBEAT_INTERVAL": "1"}
    tree = base / "tree"
    tree.mkdir()
    for i in range(3):
        (tree / f"venue_{i}.csv").write_text("a,b\n1,2\n")
    worker = WorkerProcess(
        env, ["demo.basic@1", "data.scan@1"], concurrency=3, log_dir=base / "workers"
    )
    with Client(settings_from_env(env)) as client:
        try:
            worker.wait_ready()
            echo = client.submit("demo.echo", message="hello", times=3)
            explode = client.submit("demo.explode", reason="source file is unreadable")
            scan = client.submit("data.scan", root=str(tree))
            render = client.submit("demo.render", scene="teapot")
            sleep = client.submit("demo.sleep", seconds=100)
            for handle in (echo, explode, scan):
                handle.wait(60)
            wait_until(lambda: client.job(sleep.id).items_processed >= 1, 60, 0.2)
            yield Filled(env, client, worker, echo.id, explode.id, scan.id, render.id, sleep.id)
        finally:
            worker.kill()


def app_for(filled: Filled) -> JobsApp:
    """The view as ``jobsys ui`` starts it (polling every 500 ms, asking the broker)."""
    return JobsApp(filled.client)


async def test_list_shows_failed_first_running_progress_outputs_and_waiting(
    filled: Filled,
) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        await until(pilot, lambda: any("no worker serves it" in e for e in listed(app)))
        entries = listed(app)
        assert entries[0].startswith("✗ EXPLODE")
        assert "source file is unreadable" in entries[0]
        running = next(e for e in entries if e.startswith("↻ SLEEP"))
        assert "%" in running and "█" in running and "ETA" in running
        echo = next(e for e in entries if e.startswith("✓ ECHO"))
        assert filled.client.job(filled.echo).output_path.split("/")[-1] in echo
        assert "(18 B)" in echo or "B)" in echo
        scan = next(e for e in entries if e.startswith("✓ SCAN"))
        assert "3 files" in scan
        waiting = next(e for e in entries if e.startswith("◷ RENDER"))
        assert "waiting for capability demo.gpu@1 — no worker serves it" in waiting
        status = text_of(app, "#status")
        assert "1 running" in status and "1 failed" in status and "1 queued" in status


async def test_navigation_keys(filled: Filled) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        entries = listed(app)
        assert highlighted(app) == entries[0]
        await pilot.press("j")
        assert highlighted(app) == entries[1]
        await pilot.press("down")
        assert highlighted(app) == entries[2]
        await pilot.press("k")
        assert highlighted(app) == entries[1]
        await pilot.press("up")
        assert highlighted(app) == entries[0]
        await pilot.press("G")
        assert highlighted(app) == entries[-1]
        await pilot.press("g")
        assert highlighted(app) == entries[0]


async def test_enter_opens_the_detail_panel_and_esc_returns(filled: Filled) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 60)) as pilot:
        await first_poll(pilot)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        shown = text_of(app, "#detail")
        assert "INPUTS" in shown and '"reason": "source file is unreadable"' in shown
        assert "RUNS (1 attempts)" in shown and "FAILED" in shown
        assert "TRACEBACK" in shown and "LINEAGE" in shown and filled.explode in shown
        await pilot.press("escape")
        assert isinstance(app.screen, JobsScreen)


async def test_l_shows_the_log_and_esc_returns(filled: Filled) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        entries = listed(app)
        for _ in range(entries.index(next(e for e in entries if e.startswith("✓ ECHO")))):
            await pilot.press("j")
        await pilot.press("l")
        assert isinstance(app.screen, LogScreen)
        log = app.screen.query_one("#log-body")
        await until(pilot, lambda: any("wrote 3 lines" in line for line in log.lines))  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert isinstance(app.screen, JobsScreen)


async def test_f_filters_by_status_and_type_and_esc_clears(filled: Filled) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        everything = len(listed(app))
        await pilot.press("f")
        assert isinstance(app.screen, FilterScreen)
        await pilot.press(*"failed", "enter")
        assert isinstance(app.screen, JobsScreen)
        assert [e[:9] for e in listed(app)] == ["✗ EXPLODE"]
        assert "filter: failed" in text_of(app, "#status")
        await pilot.press("f")
        app.screen.query_one(Input).value = "scan"
        await pilot.press("enter")
        assert [e[:6] for e in listed(app)] == ["✓ SCAN"]
        await pilot.press("f", "x", "escape")  # Esc in the dialog keeps the filter
        assert [e[:6] for e in listed(app)] == ["✓ SCAN"]
        await pilot.press("escape")  # Esc in the list clears it
        assert len(listed(app)) == everything


async def test_p_toggles_the_pipeline_summary(filled: Filled) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        pipeline = app.screen.query_one("#pipeline")
        assert not pipeline.display
        await pilot.press("P")
        assert pipeline.display
        shown = text_of(app, "#pipeline")
        assert "SOURCE" in shown and "PARSED" in shown and "OUTPUT" in shown
        assert "│    3     │" in shown  # the scan's three files
        await pilot.press("P")
        assert not pipeline.display


async def test_monitoring_panel_keys(filled: Filled) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        await pilot.press("m")
        assert isinstance(app.screen, MonitorScreen)
        monitor = app.screen
        await until(pilot, lambda: "scout_files" in text_of(app, "#sinks"))
        assert "Running:" in text_of(app, "#queue") and "Depth:" in text_of(app, "#queue")
        assert "rows/s avg" in text_of(app, "#throughput")
        assert app.focused is not None and app.focused.id == "queue"
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "throughput"
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "sinks"
        await pilot.press("p")
        assert monitor.paused and "paused" in str(monitor.query_one("#frame").border_title)
        await pilot.press("p")
        assert not monitor.paused
        await pilot.press("r")
        assert "0 B total" in text_of(app, "#sinks")  # counted from the reset on
        await pilot.press("escape")
        assert isinstance(app.screen, JobsScreen)


async def test_help_and_back(filled: Filled) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, JobsScreen)


async def test_y_copies_the_output_path_and_says_where(filled: Filled) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        await pilot.press("f", *"echo", "enter", "y")
        path = filled.client.job(filled.echo).output_path
        assert app.clipboard == path
        messages = [n.message for n in app._notifications]
        assert any(path in m and "OSC 52" in m for m in messages)


async def test_o_x_on_jobs_they_do_not_apply_to_and_x_clears_completed(
    filled: Filled,
) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        await pilot.press("o", "S")  # the failed demo job is neither an export nor a backtest
        messages = [n.message for n in app._notifications]
        assert any("only a completed export" in m for m in messages)
        assert any("only a running backtest" in m for m in messages)
        await pilot.press("x")
        entries = listed(app)
        assert not any(e.startswith("✓") for e in entries)
        assert filled.client.job(filled.echo).status == "COMPLETED"  # history kept
        await pilot.press("x")
        assert any("no completed jobs" in n.message for n in app._notifications)


# R runs before c: c terminates a pool process, and a message the worker receives in the
# second after that was seen not to run on the embedded broker (which cannot redeliver).
async def test_r_retries_the_failed_job(filled: Filled) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        await until(pilot, lambda: highlighted(app).startswith("✗ EXPLODE"))
        await pilot.press("R")
        wait_until(lambda: len(filled.client.runs(filled.explode)) == 2, 60, 0.2)
        wait_until(lambda: filled.client.job(filled.explode).status == "FAILED", 60, 0.2)
        await until(pilot, lambda: highlighted(app).startswith("✗ EXPLODE"))


async def test_c_asks_then_cancels_the_running_job(filled: Filled) -> None:
    app = app_for(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        await pilot.press("f", *"running", "enter", "c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert filled.client.job(filled.sleep).status == "RUNNING"
        await pilot.press("c")
        await pilot.press("y")
        wait_until(lambda: filled.client.job(filled.sleep).status == "CANCELLED", 30)
        await until(pilot, lambda: not listed(app) or listed(app)[0].startswith("no job"))
