"""SVG snapshots of the main screens at 80×24 and 160×48 (kept in __snapshots__/, reviewed).

Regenerate after an intended change: ``pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from jobsys.client import Client

from ._pilot import first_poll, text_of, until
from .conftest import seeded_app

SIZES = [(80, 24), (160, 48)]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_main_screen(snap_compare: object, seeded_client: Client, size: tuple[int, int]) -> None:
    assert callable(snap_compare)
    assert snap_compare(seeded_app(seeded_client), terminal_size=size, run_before=first_poll)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_pipeline_summary(
    snap_compare: object, seeded_client: Client, size: tuple[int, int]
) -> None:
    assert callable(snap_compare)
    app = seeded_app(seeded_client)
    assert snap_compare(app, press=["P"], terminal_size=size, run_before=first_poll)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_monitoring_panel(
    snap_compare: object, seeded_client: Client, size: tuple[int, int]
) -> None:
    assert callable(snap_compare)

    async def open_monitor(pilot: Pilot[None]) -> None:
        await first_poll(pilot)
        await pilot.press("m")
        # A poll already under way when "m" is pressed reads no sink figures: wait for the
        # one that does, not merely for a second poll.
        await until(pilot, lambda: "fix_orders" in text_of(app, "#sinks"))
        await pilot.pause()

    app = seeded_app(seeded_client)
    assert snap_compare(app, terminal_size=size, run_before=open_monitor)


def test_detail_panel(snap_compare: object, seeded_client: Client) -> None:
    assert callable(snap_compare)
    app = seeded_app(seeded_client)
    assert snap_compare(app, press=["enter"], terminal_size=(100, 40), run_before=first_poll)
