"""The daily history prune that ``jobsys beat`` runs (setting ``history_retention``).

Beat calls ``HistoryPruner.poke(now)`` on every tick; at most every ``CHECK_EVERY`` it
starts a thread that claims the day's prune (``jobsys.store.maintenance.claim``: a
compare-and-set on one row, so of two beats only one prunes, and a restarted beat
does not prune again within ``PERIOD``) and then prunes in short batches. Beat's loop
never waits for it: schedules keep firing while a large prune runs, and a stopping
beat tells the prune to stop after its current batch.

A thread, not a Celery task: nothing depends on a worker serving the default queue,
and no message can be lost or delivered twice; the claimed row is what prevents a
second run.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from celery.utils.log import get_logger

from jobsys.store import maintenance, retention
from jobsys.store.retention import PruneReport
from jobsys.store.session import store_errors

if TYPE_CHECKING:
    from jobsys.runtime import Runtime

logger = get_logger("jobsys.beat")
#: how often beat looks whether the prune is due
CHECK_EVERY = timedelta(minutes=10)
#: the prune runs once per period (counted from the start of the previous one)
PERIOD = timedelta(days=1)


class HistoryPruner:
    """Runs the history prune once per ``PERIOD`` in a background thread of beat."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        #: who claimed the run (host:pid and a token: two beats in one process differ)
        self.owner = f"beat@{runtime.worker_id()}:{uuid.uuid4().hex[:8]}"
        self._thread: threading.Thread | None = None
        self._next_check: datetime | None = None
        self._stop = threading.Event()

    def poke(self, now: datetime) -> threading.Thread | None:
        """Start the prune thread if retention is on, none runs, and it is time to look."""
        if self.runtime.settings.retention_period is None or self._stop.is_set():
            return None
        if self._thread is not None and self._thread.is_alive():
            return None
        if self._next_check is not None and now < self._next_check:
            return None
        self._next_check = now + CHECK_EVERY
        self._thread = threading.Thread(
            target=self.run_once, args=(now,), name="jobsys-history-prune", daemon=True
        )
        self._thread.start()
        return self._thread

    def run_once(self, now: datetime) -> PruneReport | None:
        """Claim and run the prune due at ``now``; None if not due here (or it failed)."""
        settings, engine = self.runtime.settings, self.runtime.engine
        period = settings.retention_period
        if period is None:
            return None
        try:
            with store_errors(settings):
                if not maintenance.claim(
                    engine, maintenance.HISTORY_PRUNE, now, PERIOD, self.owner
                ):
                    return None
                logger.info("beat: pruning history older than %s", settings.history_retention)
                report = retention.prune(
                    engine,
                    now - period,
                    settings.history_keep_failed,
                    logs_root=self.runtime.logs_root,
                    should_stop=self._stop.is_set,
                )
                done = now + timedelta(seconds=report.seconds)
                data = {**report.as_dict(), "summary": report.summary()}
                maintenance.finish(engine, maintenance.HISTORY_PRUNE, self.owner, done, data)
        except Exception as exc:  # a thread of beat: log, never take beat down
            logger.error("beat: history prune failed: %s", exc)
            self._record_failure(now, exc)
            return None
        logger.info("beat: history prune %s", report.summary())
        return report

    def _record_failure(self, now: datetime, exc: Exception) -> None:
        try:
            with store_errors(self.runtime.settings):
                maintenance.finish(
                    self.runtime.engine,
                    maintenance.HISTORY_PRUNE,
                    self.owner,
                    now,
                    {"error": f"{type(exc).__name__}: {exc}"},
                )
        except Exception as again:
            logger.error("beat: cannot record the failed history prune: %s", again)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the prune thread started last, if any, to end."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask a running prune to stop after its current batch, and wait for it a little."""
        self._stop.set()
        self.join(timeout)
