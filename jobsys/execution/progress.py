"""Progress written to the store (throttled), and heartbeats of running jobs."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import Engine

from jobsys.store import writes

log = logging.getLogger(__name__)


class StoreProgress:
    """A ``ProgressReporter`` writing items processed/total/failed, at most every ``interval``."""

    def __init__(self, engine: Engine, job_id: str, interval: float = 0.5) -> None:
        self.engine, self.job_id, self.interval = engine, job_id, interval
        self._last = 0.0
        self._pending: tuple[int, int | None, int | None] | None = None

    def update(self, processed: int, total: int | None = None, failed: int | None = None) -> None:
        """Remember the figures; write them if ``interval`` has passed."""
        self._pending = (processed, total, failed)
        now = time.monotonic()
        if now - self._last >= self.interval:
            self.flush()
            self._last = now

    def flush(self) -> None:
        """Write the latest figures, if any are unwritten."""
        if self._pending is None:
            return
        processed, total, failed = self._pending
        self._pending = None
        try:
            with self.engine.begin() as conn:
                writes.progress(conn, self.job_id, processed, total, failed, datetime.now(UTC))
        except Exception:  # progress is advisory: never fail a job over it
            log.warning("could not record progress of job %s", self.job_id, exc_info=True)


class Heartbeats:
    """A daemon thread marking this process's running jobs alive every ``interval`` seconds."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine, self.interval = engine, interval
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, job_id: str) -> None:
        """Start beating for ``job_id`` (starts the thread on first use)."""
        with self._lock:
            self._running.add(job_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="jobsys-heartbeat", daemon=True
                )
                self._thread.start()

    def discard(self, job_id: str) -> None:
        """Stop beating for ``job_id``."""
        with self._lock:
            self._running.discard(job_id)

    def _loop(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._lock:
                ids = list(self._running)
            if not ids:
                continue
            try:
                with self.engine.begin() as conn:
                    writes.heartbeat(conn, ids, datetime.now(UTC))
            except Exception:
                log.warning("heartbeat of %d running jobs failed", len(ids), exc_info=True)
