"""Reading what the jobs view shows, as a user would read it."""

from __future__ import annotations

import io

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from jobsys.testing import wait_until
from jobsys.tui.app import JobsApp


async def first_poll(pilot: Pilot[None]) -> None:
    """Wait for the view's first poll to be drawn."""
    app = pilot.app
    assert isinstance(app, JobsApp)
    for _ in range(400):
        if app.snapshot is not None:
            break
        await pilot.pause(0.05)
    await pilot.pause()
    assert app.snapshot is not None, "the view never polled"


async def until(pilot: Pilot[None], predicate: object, timeout: float = 30.0) -> None:
    """Let the app run until ``predicate()`` is true."""
    assert callable(predicate)
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    wait_until(predicate, 0.01, message="the view to show it")


def listed(app: JobsApp) -> list[str]:
    """The list's entries as plain text, top to bottom."""
    options = app.screen.query_one("#jobs", OptionList).options
    return [str(getattr(o.prompt, "plain", o.prompt)) for o in options]


def highlighted(app: JobsApp) -> str:
    """The highlighted entry."""
    option = app.screen.query_one("#jobs", OptionList).highlighted_option
    assert option is not None
    return str(getattr(option.prompt, "plain", option.prompt))


def text_of(app: JobsApp, selector: str) -> str:
    """What a Static shows, as plain text."""
    widget = app.screen.query_one(selector, Static)
    renderable = widget.content
    plain = getattr(renderable, "plain", None)
    if isinstance(plain, str):
        return plain
    console = Console(width=max(40, widget.size.width), record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
