"""The client's history layer: prune old history, and say how much the store holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jobsys.client_base import _now
from jobsys.client_schedules import SchedulesClient
from jobsys.store import maintenance, retention
from jobsys.store.maintenance import HistoryStats
from jobsys.store.retention import DEFAULT_BATCH_SIZE, PruneReport
from jobsys.store.session import store_errors


class HistoryClient(SchedulesClient):
    """Remove history older than a period (``jobsys history prune``); count what is kept."""

    def prune_history(
        self,
        older_than: timedelta,
        *,
        keep_failed: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        dry_run: bool = False,
    ) -> PruneReport:
        """Remove ended jobs (and their runs, groups, sink figures, logs) idle for ``older_than``.

        Published outputs are never removed. See ``jobsys.store.retention`` for the rules.
        """
        with store_errors(self.settings):
            return retention.prune(
                self.runtime.engine,
                _now() - older_than,
                keep_failed,
                batch_size=batch_size,
                dry_run=dry_run,
                logs_root=self.runtime.logs_root,
            )

    def history_stats(self) -> tuple[HistoryStats, Any]:
        """Rows per history table and the oldest job; and the daily prune's last run (or None)."""
        with store_errors(self.settings):
            engine = self.runtime.engine
            with engine.connect() as conn:
                counted = maintenance.stats(conn)
            return counted, maintenance.last(engine, maintenance.HISTORY_PRUNE)
