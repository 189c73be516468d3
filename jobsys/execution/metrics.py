"""Sink figures written to the store (batched), like ``StoreProgress`` for progress."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from jobsys.store import writes

log = logging.getLogger(__name__)


@dataclass
class _Batch:
    rows: int = 0
    bytes: int = 0
    writes: int = 0
    errors: int = 0
    latency_ms: float = 0.0
    max_latency_ms: float = 0.0


class StoreMetrics:
    """A ``MetricsRecorder`` adding up writes per (sink, output), inserted every ``interval``.

    Each flush appends one ``sink_stats`` row per (sink, output) written to since the
    previous flush, in one statement.
    """

    def __init__(self, engine: Engine, job_id: str, interval: float = 0.5) -> None:
        self.engine, self.job_id, self.interval = engine, job_id, interval
        self._last = time.monotonic()
        self._pending: dict[tuple[str, str], _Batch] = {}

    def sink(
        self,
        uri: str,
        output: str,
        rows: int,
        bytes: int,  # noqa: A002 - the seed's word
        latency_ms: float,
        errors: int = 0,
    ) -> None:
        """Add one write's figures; insert the batch if ``interval`` has passed."""
        batch = self._pending.setdefault((uri, output), _Batch())
        batch.rows += rows
        batch.bytes += bytes
        batch.writes += 1
        batch.errors += errors
        batch.latency_ms += latency_ms
        batch.max_latency_ms = max(batch.max_latency_ms, latency_ms)
        now = time.monotonic()
        if now - self._last >= self.interval:
            self.flush()
            self._last = now

    def flush(self) -> None:
        """Insert the figures not yet written, if any."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = [
            {
                "job_id": self.job_id,
                "sink_uri": uri,
                "output": output,
                "recorded_at": now,
                "rows": b.rows,
                "bytes": b.bytes,
                "writes": b.writes,
                "error_count": b.errors,
                "write_latency_ms": b.latency_ms / b.writes if b.writes else 0.0,
                "max_latency_ms": b.max_latency_ms,
            }
            for (uri, output), b in pending.items()
        ]
        try:
            with self.engine.begin() as conn:
                writes.sink_figures(conn, rows)
        except Exception:  # figures are advisory: never fail a job over them
            log.warning("could not record sink figures of job %s", self.job_id, exc_info=True)
