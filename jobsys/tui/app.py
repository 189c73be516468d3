"""``JobsApp``: the jobs view. Modes ``jobs`` (the list) and ``monitor`` (seed 001 §5).

Reads go through ``Poller`` (``jobsys.store.queries`` only) in a thread worker every half
second; actions (retry, cancel, stop) go through ``jobsys.client.Client``, the one path
that writes. Esc returns to the list from every screen.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import Connection
from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import get_current_worker

from jobsys.client import Client
from jobsys.errors import JobsysError
from jobsys.store.session import store_errors
from jobsys.tui.poller import POLL_INTERVAL, Poller, Snapshot
from jobsys.tui.screens.jobs import JobsScreen
from jobsys.tui.screens.monitor import MonitorScreen

T = TypeVar("T")

#: seconds between retries while the store is unreachable, at most
MAX_RETRY = 5.0
#: depth samples kept for the queue sparkline (one per poll)
DEPTH_SAMPLES = 120


def waiting_capabilities(client: Client) -> Callable[[], frozenset[str]]:
    """Capabilities that have queued jobs and no worker serving them (asks the broker)."""

    def ask() -> frozenset[str]:
        return frozenset(
            c.capability for c in client.capabilities(inspect_timeout=0.5) if not c.workers
        )

    return ask


class JobsApp(App[None]):
    """The Jobs view over jobsys's store."""

    CSS_PATH = "jobs.tcss"
    TITLE = "JOBS"
    MODES: ClassVar[dict[str, Any]] = {"jobs": JobsScreen, "monitor": MonitorScreen}
    DEFAULT_MODE = "jobs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", show=False),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        client: Client,
        *,
        poll_interval: float = POLL_INTERVAL,
        clock: Callable[[], datetime] | None = None,
        waiting: Callable[[], frozenset[str]] | None = None,
        window: int = 2000,
    ) -> None:
        super().__init__()
        self.client = client
        self.poll_interval = poll_interval
        self.clock = clock or (lambda: datetime.now(UTC))
        self.poller = Poller(
            lambda: client.runtime.engine,
            client.settings,
            window=window,
            waiting=waiting if waiting is not None else waiting_capabilities(client),
            clock=self.clock,
        )
        self.snapshot: Snapshot | None = None
        self.polls = 0
        #: completed jobs cleared from the view by ``x`` (their history stays in the store)
        self.cleared: set[str] = set()
        self.show_pipeline = False
        self.depth: deque[int] = deque(maxlen=DEPTH_SAMPLES)
        self._depth_at: datetime | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()

    def on_mount(self) -> None:
        """Start polling."""
        self.poll_loop()

    def on_unmount(self) -> None:
        """Stop polling."""
        self._stop.set()
        self._wake.set()

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def poll_loop(self) -> None:
        """Poll every ``poll_interval``; back off (to ``MAX_RETRY`` s) while the store is down."""
        worker = get_current_worker()
        delay = self.poll_interval
        while not worker.is_cancelled and not self._stop.is_set():
            snap = self.poller.poll()
            if self._stop.is_set():
                return
            self.call_from_thread(self.deliver, snap)
            delay = self.poll_interval if snap.error is None else min(MAX_RETRY, delay * 2)
            self._wake.wait(delay)
            self._wake.clear()

    def poll_now(self) -> None:
        """Poll at once instead of at the next tick."""
        self._wake.set()

    def deliver(self, snap: Snapshot) -> None:
        """Hand a poll's result to the screen in view."""
        self.snapshot = snap
        self.polls += 1
        # One depth sample per poll instant (the view's clock): polls are not counted twice
        # when a poll is asked for early, and a frozen clock (tests) keeps one sample.
        if snap.error is None and snap.polled_at != self._depth_at:
            self.depth.append(sum(snap.counts.get(s, 0) for s in ("PENDING", "QUEUED")))
            self._depth_at = snap.polled_at
        show = getattr(self.screen, "show_snapshot", None)
        if callable(show):
            show(snap)

    def read(self, query: Callable[[Connection], T]) -> T:
        """One read of the store (a ``jobsys.store.queries`` function) on the UI's behalf."""
        with store_errors(self.client.settings), self.client.runtime.engine.connect() as conn:
            return query(conn)

    def now(self) -> datetime:
        """The view's clock (fixed in snapshot tests)."""
        return self.clock()

    @work(thread=True, group="action")
    def act(self, what: str, call: Callable[[], object]) -> None:
        """Run a client action off the UI thread and say how it went."""
        try:
            call()
        except JobsysError as exc:
            self.call_from_thread(
                self.notify, f"{what}: {exc.format_message()}", severity="error", timeout=8
            )
            return
        self.call_from_thread(self.notify, what)
        self.poll_now()
