"""Tables and JSON for the terminal. No logic beyond formatting."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()

STATUS_STYLE = {
    "COMPLETED": "green",
    "COMPLETED_WITH_WARNINGS": "yellow",
    "FAILED": "red",
    "CANCELLED": "magenta",
    "RUNNING": "cyan",
    "QUEUED": "blue",
    "PENDING": "blue",
    "SKIPPED": "dim",
}


def when(value: datetime | None) -> str:
    """A timestamp, short."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def status(value: str) -> str:
    """A status with its colour."""
    style = STATUS_STYLE.get(value, "")
    return f"[{style}]{value}[/{style}]" if style else value


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a table."""
    t = Table(title=title, title_justify="left")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)


def as_json(value: Any) -> None:
    """Print JSON (rows become objects)."""
    print(json.dumps(value, default=_default, indent=2, sort_keys=True))


def row_dict(row: Any) -> dict[str, Any]:
    """A SQLAlchemy row as a dict."""
    return dict(row._mapping)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def job_note(job: Any, waiting: set[str]) -> str:
    """What a reader wants to know next to a job's status."""
    if job.status in ("QUEUED", "PENDING") and job.capability in waiting:
        return f"waiting for capability {job.capability} (no worker serves it)"
    if job.error:
        return str(job.error).splitlines()[0][:120]
    if job.output_path:
        size = job.output_size_bytes or 0
        return f"→ {job.output_path} ({size:,} B)"
    if job.status == "RUNNING" and job.items_total:
        return f"{job.items_processed}/{job.items_total}"
    return ""
