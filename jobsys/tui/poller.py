"""What the view knows of the store, refreshed every half second (seed 001 §9).

``Poller.poll()`` reads only through ``jobsys.store.queries``: the jobs whose ``updated_at``
moved since the last poll (an indexed range, empty when nothing changed), the status
counts when something did (at most every ``COUNT_INTERVAL`` s: counting 100,000 rows takes
tens of milliseconds), and the sink figures while the monitoring panel is open. It
keeps the last ``window`` jobs it has seen, so a store of 100,000 jobs costs the view only
those. The view's state lives in the store: a restarted view (or worker) just reads again.
The app runs ``poll()`` in a ``@work(thread=True)`` loop; errors (an unreachable store)
come back in ``Snapshot.error`` and the loop retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from jobsys.errors import JobsysError
from jobsys.settings import Settings
from jobsys.store import queries
from jobsys.store.session import store_errors
from jobsys.tui import rendering

POLL_INTERVAL = 0.5
#: seconds between two countings of every job (the status line), when jobs changed
COUNT_INTERVAL = 2.0
#: seconds between two reads of the sink figures (sums over ``sink_stats``) while monitoring
SINK_INTERVAL = 2.0
#: how far back the monitoring panel's throughput reaches (seed 001 §5)
WINDOW = timedelta(minutes=5)


@dataclass
class Snapshot:
    """One poll's result: what the screens draw."""

    jobs: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    figures: Any = None
    sinks: list[Any] = field(default_factory=list)
    samples: list[Any] = field(default_factory=list)
    waiting: frozenset[str] = frozenset()
    error: str | None = None
    changed: bool = False
    polled_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    poll_ms: float = 0.0


class Poller:
    """Incremental reads of the store for the jobs view."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        settings: Settings,
        *,
        window: int = 2000,
        waiting: Callable[[], frozenset[str]] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._engine = engine
        self.settings = settings
        self.window = window
        self.monitoring = False
        self._waiting = waiting
        self.clock = clock or (lambda: datetime.now(UTC))
        self._waiting_at = 0.0
        self._since: datetime | None = None
        self._sinks_at = 0.0
        self._counted_at = 0.0
        self._dirty = False
        self._last = Snapshot()

    def poll(self) -> Snapshot:
        """Read what changed; on a store error, the last snapshot with ``error`` set."""
        started = time.perf_counter()
        try:
            with store_errors(self.settings), self._engine().connect() as conn:
                snap = self._read(conn)
        except (JobsysError, SQLAlchemyError, OSError) as exc:
            text = exc.format_message() if isinstance(exc, JobsysError) else str(exc)
            failed = Snapshot(**{**self._last.__dict__, "error": text.splitlines()[0]})
            failed.polled_at = datetime.now(UTC)
            self._since = None  # read everything again once the store is back
            return failed
        snap.waiting = self._capabilities_waiting()
        snap.poll_ms = (time.perf_counter() - started) * 1000
        self._last = snap
        return snap

    def _read(self, conn: Any) -> Snapshot:
        now = self.clock()
        jobs = dict(self._last.jobs) if self._since is not None else {}
        if self._since is None:
            rows = queries.list_jobs(conn, limit=self.window)
            stamp = queries.latest_change(conn)
            changed = True
        else:
            rows = queries.jobs_changed_since(conn, self._since, limit=self.window)
            stamp = max((r.updated_at for r in rows), default=self._since)
            changed = any(jobs.get(r.id) != r for r in rows)
        for row in rows:
            jobs[row.id] = row
        if len(jobs) > self.window:  # keep what the list shows first: failed, running, newest
            kept = sorted(jobs.values(), key=rendering.sort_key)[: self.window]
            jobs = {j.id: j for j in kept}
        self._since = stamp
        counts, figures = self._last.counts, self._last.figures
        self._dirty = self._dirty or changed
        due = time.monotonic() - self._counted_at >= COUNT_INTERVAL
        if self._last.error is not None or not counts or (self._dirty and due):
            self._dirty = False
            counts = queries.jobs_by_status(conn)
            figures = queries.job_totals(conn)
            self._counted_at = time.monotonic()
        sinks, samples = self._last.sinks, self._last.samples
        if self.monitoring and time.monotonic() - self._sinks_at >= SINK_INTERVAL:
            sinks = queries.sink_figures(conn)
            samples = queries.sink_samples(conn, now - WINDOW)
            self._sinks_at = time.monotonic()
        return Snapshot(
            jobs=jobs,
            counts=counts,
            figures=figures,
            sinks=sinks,
            samples=samples,
            changed=changed,
            polled_at=now,
        )

    def refresh_sinks(self) -> None:
        """Read the sink figures at the next poll (the monitoring panel was just opened)."""
        self._sinks_at = 0.0

    def _capabilities_waiting(self) -> frozenset[str]:
        """Capabilities no worker serves, asked of the broker at most every 10 s."""
        if self._waiting is None:
            return frozenset()
        if time.monotonic() - self._waiting_at < 10 and self._waiting_at:
            return self._last.waiting
        self._waiting_at = time.monotonic()
        try:
            return self._waiting()
        except JobsysError:
            return self._last.waiting
