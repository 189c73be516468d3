"""Tables and JSON for the terminal. No logic beyond formatting."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
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


def ago(value: datetime | None) -> str:
    """How long ago, as the jobs view says it: 12s ago, 5m ago, 3h ago, 2d ago."""
    if value is None:
        return "-"
    seconds = max(0, int((datetime.now(UTC) - value).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def status(value: str) -> str:
    """A status with its colour."""
    style = STATUS_STYLE.get(value, "")
    return f"[{style}]{value}[/{style}]" if style else value


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a table."""
    t = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        last = i == len(columns) - 1
        # The last column (a note or an error) keeps room to be read in 80 columns.
        t.add_column(col, overflow="fold", min_width=16 if last else None)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)


def as_json(value: Any) -> None:
    """Print JSON (rows become objects)."""
    print(json.dumps(value, default=_default, indent=2, sort_keys=True))


def row_dict(row: Any) -> dict[str, Any]:
    """A SQLAlchemy row as a dict."""
    return dict(row._mapping)


def short_path(path: str) -> str:
    """A path relative to the current directory when it lies below it."""
    try:
        return "./" + str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def human_bytes(size: int) -> str:
    """847 MB, 12 kB, 54 B."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


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
        return f"→ {short_path(job.output_path)} ({human_bytes(job.output_size_bytes or 0)})"
    if job.status == "RUNNING" and job.items_total:
        return f"{job.items_processed}/{job.items_total}"
    return ""
