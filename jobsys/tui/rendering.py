"""How one job reads in the list (seed 001 §4), the status line and the pipeline summary.

Pure functions over job rows (anything with the ``jobs`` table's attributes): no Textual,
no database, so they are tested as plain functions and reused by the screens.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.text import Text

ICONS = {
    "FAILED": ("✗", "bold red"),
    "RUNNING": ("↻", "bold cyan"),
    "COMPLETED": ("✓", "green"),
    "COMPLETED_WITH_WARNINGS": ("✓", "yellow"),
    "CANCELLED": ("⊘", "magenta"),
    "SKIPPED": ("↷", "dim"),
}
WAITING_ICON = ("◷", "blue")
WAITING = frozenset({"PENDING", "QUEUED", "DISPATCHED"})
DONE = frozenset({"COMPLETED", "COMPLETED_WITH_WARNINGS", "SKIPPED"})
LABEL_WIDTH = 9
INDENT = " " * (2 + LABEL_WIDTH + 1)
BAR_WIDTH = 12
#: what a backtest's termination reason means to its reader
REASONS = {
    "pass_rate_achieved": "Target pass rate reached",
    "high_failure_early_stop": "Early stop: high-failure failing",
    "plateau": "Stopped: pass rate plateaued",
    "max_iterations": "Stopped: max iterations",
    "all_files_tested": "All files tested",
    "user_stopped": "Stopped by user",
}
#: a backtest that ended for one of these reasons is shown as failed (seed 001 §4.9)
BACKTEST_FAILED = frozenset({"high_failure_early_stop", "plateau", "max_iterations"})


def human_bytes(size: int | None) -> str:
    """847 MB, 1.2 GB, 12 kB, 54 B."""
    value = float(size or 0)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "kB", "MB") else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def ago(value: datetime | None, now: datetime) -> str:
    """12s ago, 5m ago, 3h ago, 2d ago."""
    if value is None:
        return ""
    seconds = max(0, int((now - value).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def duration(seconds: float) -> str:
    """45s, 6m, 2h 5m."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h {seconds % 3600 // 60}m"


def short_path(path: str, home: Path | None = None) -> str:
    """``~/...`` below the home directory, ``./...`` below the current one."""
    p = Path(path)
    for base, prefix in ((Path.cwd(), "./"), (home or Path.home(), "~/")):
        try:
            return prefix + str(p.relative_to(base))
        except ValueError:
            continue
    return path


def progress_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """``████████░░░░`` for 0.67."""
    filled = max(0, min(width, int(round(fraction * width))))
    return "█" * filled + "░" * (width - filled)


def label(job_type: str) -> str:
    """SCAN, PARSE, EXPORT, BACKTEST…: the job type's last part, upper case."""
    name = job_type.rsplit(".", 1)[-1].upper()
    return name.removeprefix("GENERATE_")[:LABEL_WIDTH]


def fraction(job: Any) -> float | None:
    """Progress 0..1 of a running job, when its total is known."""
    if job.job_type == "data.backtest" and job.items_processed:
        return float(job.items_processed - job.items_failed) / float(job.items_processed)
    if job.items_total:
        return min(1.0, float(job.items_processed) / float(job.items_total))
    return None


def eta(job: Any, now: datetime) -> str | None:
    """Time left at the rate so far, when it can be told."""
    if not job.items_total or not job.items_processed or job.started_at is None:
        return None
    elapsed = (now - job.started_at).total_seconds()
    left = job.items_total - job.items_processed
    if elapsed <= 0 or left <= 0:
        return None
    return duration(elapsed / job.items_processed * left)


def _outputs(job: Any) -> Mapping[str, Any]:
    return job.outputs if isinstance(job.outputs, Mapping) else {}


def _params(job: Any) -> Mapping[str, Any]:
    return job.params if isinstance(job.params, Mapping) else {}


def _version(name: Any, version: Any) -> str:
    return f"{name} v{version}" if version else str(name)


def title(job: Any) -> str:
    """The first line's text after the type (seed 001 §4)."""
    out, params = _outputs(job), _params(job)
    kind = job.job_type
    if kind == "data.scan":
        root = out.get("root") or params.get("root", "")
        files = out.get("files_total")
        return f"{root} • {files:,} files" if files is not None else str(root)
    if kind in ("data.parse", "data.backtest"):
        name = _version(
            out.get("parser") or params.get("parser", "?"),
            out.get("parser_version") or params.get("parser_version"),
        )
        iterations = out.get("iterations")
        return f"{name} (iter {iterations})" if kind == "data.backtest" and iterations else name
    if kind == "data.export":
        where = job.output_path or out.get("output_dir")
        text = f"{params.get('name', 'export')} ({params.get('format', 'csv')})"
        if where:
            text += f" → {short_path(where)}"
        if job.status in DONE and job.output_size_bytes:
            text += f" ({human_bytes(job.output_size_bytes)})"
        return text
    source = params.get("source") or params.get("path") or params.get("asset") or params.get("root")
    if source:
        return f"{kind} {Path(str(source)).name}"
    first = next((f"{k}={v}" for k, v in params.items() if isinstance(v, str | int | float)), "")
    return f"{kind} {first}".strip()


def failed(job: Any) -> bool:
    """FAILED, or a backtest that ended without reaching its target."""
    reason = _outputs(job).get("termination_reason")
    return bool(
        job.status == "FAILED" or (job.job_type == "data.backtest" and reason in BACKTEST_FAILED)
    )


def first_failure(job: Any) -> str | None:
    """The first file that failed, as the job's outputs or inputs name it."""
    out, params = _outputs(job), _params(job)
    first = out.get("first_failure")
    if isinstance(first, Mapping) and first.get("file"):
        return Path(str(first["file"])).name
    if out.get("first_quarantine"):
        return str(out["first_quarantine"])
    if job.status == "FAILED":
        path = params.get("path") or params.get("source") or params.get("asset")
        if isinstance(path, str):
            return Path(path).name
    return None


def _error_summary(job: Any) -> str:
    first = (str(job.error).strip().splitlines() or [""])[0] if job.error else "failed"
    parts = []
    if job.items_failed and "failed" not in first:
        parts.append(f"{job.items_failed:,} files failed")
    kind = job.error_type.rsplit(".", 1)[-1] if job.error_type else ""
    parts.append(f"{kind}: {first}" if kind and kind not in first else first)
    return " • ".join(parts)


def _backtest_detail(job: Any) -> list[str]:
    out = _outputs(job)
    if job.status == "RUNNING" or not out:
        tested = job.items_processed
        lines = [f"Pass: {tested - job.items_failed:,}/{tested:,} files"]
        return lines
    hf_t, hf_p = out.get("high_failure_tested", 0), out.get("high_failure_passed", 0)
    high = "All high-failure resolved" if hf_t == hf_p else f"{hf_p}/{hf_t} high-failure passed"
    reason = REASONS.get(str(out.get("termination_reason")), "")
    rate = float(out.get("pass_rate", 0.0))
    text = f"Pass rate: {rate:.1%} ({out.get('files_passed', 0)}/{out.get('files_tested', 0)})"
    return [" • ".join(p for p in (text, reason if failed(job) else high) if p)]


def _done_detail(job: Any, home: Path | None) -> list[str]:
    out = _outputs(job)
    kind = job.job_type
    if kind == "data.scan":
        return []
    if kind == "data.export":
        text = f"{out.get('rows', job.items_processed):,} records"
        if out.get("bates_first"):
            text += f" • Bates {out['bates_first']}-{out['bates_last']}"
        return [text]
    if kind == "data.backtest":
        return _backtest_detail(job)
    where = job.output_path or out.get("output_dir")
    if not where:
        return []
    count = out.get("rows")
    unit = "rows" if count is not None else "items"
    count = count if count is not None else job.items_processed
    lead = f"{count:,} {unit} → " if count else "→ "
    return [f"{lead}{short_path(str(where), home)} ({human_bytes(job.output_size_bytes)})"]


def detail_lines(
    job: Any, now: datetime, waiting: Iterable[str] = (), home: Path | None = None
) -> list[str]:
    """The lines under the first one: errors, progress, outputs (seed 001 §4)."""
    if failed(job):
        lines = (
            _backtest_detail(job)
            if job.job_type == "data.backtest" and job.status != "FAILED"
            else [_error_summary(job)]
        )
        first = first_failure(job)
        if first:
            lines.append(f"First failure: {first}")
        return lines
    if job.status == "RUNNING":
        if job.job_type == "data.backtest":
            return _backtest_detail(job)
        unit = (
            "records"
            if job.job_type == "data.export"
            else "files"
            if job.job_type == "data.scan"
            else "items"
        )
        done = (
            f"{job.items_processed:,}/{job.items_total:,}"
            if job.items_total
            else f"{job.items_processed:,}"
        )
        left = eta(job, now)
        return [f"{done} {unit}" + (f" • ETA {left}" if left else "")]
    if job.status in WAITING:
        if job.capability in set(waiting):
            return [f"waiting for capability {job.capability} — no worker serves it"]
        return [f"queued on {job.capability}"]
    if job.status == "CANCELLED":
        return ["cancelled" + (f" • {job.error.splitlines()[0]}" if job.error else "")]
    return _done_detail(job, home)


def job_text(
    job: Any, now: datetime, width: int, waiting: Iterable[str] = (), home: Path | None = None
) -> Text:
    """One job as the list shows it: the header line and its detail lines."""
    icon, style = ICONS.get(job.status, WAITING_ICON)
    if job.job_type == "data.backtest" and failed(job):
        icon, style = ICONS["FAILED"]
    head = Text()
    head.append(f"{icon} ", style)
    head.append(f"{label(job.job_type):<{LABEL_WIDTH}}", "bold")
    head.append(" ")
    right: Text
    share = fraction(job) if job.status == "RUNNING" else None
    if share is not None:
        right = Text(f"{progress_bar(share)} {share:>4.0%}", "cyan")
    elif job.status == "RUNNING":
        right = Text("running", "cyan")
    else:
        right = Text(ago(job.finished_at or job.updated_at, now), "dim")
    room = max(8, width - len(head) - len(right) - 2)
    name = title(job)
    head.append(name if len(name) <= room else name[: room - 1] + "…")
    head.append(" " * max(1, width - len(head) - len(right)))
    head.append_text(right)
    for line in detail_lines(job, now, waiting, home):
        text = INDENT + line
        head.append("\n")
        head.append(
            text if len(text) <= width else text[: width - 1] + "…", "red" if failed(job) else ""
        )
    return head


def sort_key(job: Any) -> tuple[int, float]:
    """Failed first, then running, then waiting, then the rest; newest first within each."""
    rank = 0 if failed(job) else 1 if job.status == "RUNNING" else 2 if job.status in WAITING else 3
    when = job.started_at or job.created_at or datetime.min.replace(tzinfo=UTC)
    return rank, -when.timestamp()


@dataclass(frozen=True)
class Totals:
    """The status line's figures."""

    running: int
    done: int
    failed: int
    waiting: int
    items_processed: int
    items_total: int
    output_bytes: int


def totals(counts: Mapping[str, int], figures: Any) -> Totals:
    """Status counts and the jobs' summed figures as the status line needs them."""
    return Totals(
        running=counts.get("RUNNING", 0),
        done=sum(counts.get(s, 0) for s in DONE),
        failed=counts.get("FAILED", 0),
        waiting=sum(counts.get(s, 0) for s in WAITING),
        items_processed=int(figures.items_processed) if figures else 0,
        items_total=int(figures.items_total) if figures else 0,
        output_bytes=int(figures.output_bytes) if figures else 0,
    )


def status_line(t: Totals) -> Text:
    """``↻ 2 running   ✓ 3 done   ✗ 1 failed     1,235/1,247 items • 847 MB output``."""
    text = Text()
    text.append(f"↻ {t.running:,} running", "cyan")
    text.append("   ")
    text.append(f"✓ {t.done:,} done", "green")
    text.append("   ")
    text.append(f"✗ {t.failed:,} failed", "bold red" if t.failed else "")
    if t.waiting:
        text.append("   ")
        text.append(f"◷ {t.waiting:,} queued", "blue")
    text.append(
        f"     {t.items_processed:,}/{t.items_total:,} items • {human_bytes(t.output_bytes)} output"
    )
    return text


@dataclass(frozen=True)
class Pipeline:
    """Seed 001 §8.3: files found, files parsed, outputs ready and running, with rates."""

    source: int
    parsed: int
    parsing: int
    ready: int
    exporting: int
    parse_rate: float
    export_rate: float
    parser: str | None
    output_bytes: int


def pipeline(jobs: Sequence[Any], now: datetime) -> Pipeline:
    """SOURCE → PARSED → OUTPUT over the data jobs in view."""
    scans = [j for j in jobs if j.job_type == "data.scan" and j.status in DONE | {"RUNNING"}]
    parses = [j for j in jobs if j.job_type == "data.parse"]
    outputs = [j for j in jobs if j.job_type in ("data.export", "data.materialize")]
    source = sum(int(_outputs(j).get("files_total", j.items_processed)) for j in scans)
    parsed = [j for j in parses if j.status in DONE]
    running = [j for j in parses if j.status == "RUNNING"]
    ready = [j for j in outputs if j.status in DONE]
    exporting = [j for j in outputs if j.status == "RUNNING"]
    latest = max(parses, key=lambda j: j.updated_at, default=None)
    return Pipeline(
        source=source,
        parsed=len(parsed),
        parsing=len(running),
        ready=len(ready),
        exporting=len(exporting),
        parse_rate=_rate(parsed, now),
        export_rate=_rate(ready, now),
        parser=title(latest) if latest is not None else None,
        output_bytes=sum(j.output_size_bytes or 0 for j in parsed),
    )


def _rate(done: Sequence[Any], now: datetime) -> float:
    """Jobs per minute over the span from the first start to now."""
    starts = [j.started_at for j in done if j.started_at is not None]
    if not starts:
        return 0.0
    minutes: float = max((now - min(starts)).total_seconds() / 60, 1 / 60)
    return len(done) / minutes


def pipeline_text(p: Pipeline) -> Text:
    """The three boxes of seed 001 §3.2, drawn in text."""
    cells = [
        (f"{p.source:,}", "files"),
        (f"{p.parsed:,}", f"{p.parsing} running" if p.parsing else "files"),
        (f"{p.ready} ready", f"{p.exporting} run"),
    ]
    gap = 9
    arrows = ("  ────▶  ", f"{'@' + format(p.parse_rate, '.0f'):^{gap}}")
    rate2 = f"{'@' + format(p.export_rate, '.0f'):^{gap}}"
    text = Text()
    text.append("  " + "".join(f"{h:<{12 + gap}}" for h in ("SOURCE", "PARSED", "OUTPUT")), "bold")
    edge = "─" * 10
    rows = [
        "  " + (" " * gap).join([f"┌{edge}┐"] * 3),
        "  " + arrows[0].join(f"│{c[0]:^10}│" for c in cells),
        "  "
        + f"│{cells[0][1]:^10}│"
        + arrows[1]
        + f"│{cells[1][1]:^10}│"
        + rate2
        + f"│{cells[2][1]:^10}│",
        "  " + (" " * gap).join([f"└{edge}┘"] * 3),
    ]
    text.append("\n")
    text.append("\n".join(rows) + "\n")
    summary = f"{p.parser}: " if p.parser else ""
    text.append(
        f"  {summary}{p.parsed:,} processed • {human_bytes(p.output_bytes)} output"
        " • rates in jobs/min",
        "dim",
    )
    return text


def sparkline(samples: Sequence[float], width: int) -> str:
    """Seed 001 §10.2: one block per sample, scaled from 0 to the samples' max (▁ is zero)."""
    blocks = "▁▂▃▄▅▆▇█"
    values = list(samples)[-width:]
    if not values:
        return ""
    low, high = 0.0, max(values)
    span = (high - low) or 1.0
    return "".join(blocks[min(7, int(round((v - low) / span * 7)))] for v in values)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` (0..1) percentile by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def bar_chart(values: Sequence[float], width: int, height: int) -> list[str]:
    """A bar chart ``height`` rows high, one column per value (the last ``width``), top first."""
    eighths = " ▁▂▃▄▅▆▇█"
    shown = list(values)[-width:]
    shown = [0.0] * (width - len(shown)) + shown
    top = max(shown, default=0.0) or 1.0
    levels = [int(round(v / top * height * 8)) for v in shown]
    rows = []
    for row in range(height - 1, -1, -1):
        line = "".join(eighths[max(0, min(8, level - row * 8))] for level in levels)
        rows.append(line)
    return rows


def throughput(
    samples: Sequence[Any], now: datetime, buckets: int = 30, span: float = 300.0
) -> list[float]:
    """Rows per second in ``buckets`` equal slices of the last ``span`` seconds, oldest first."""
    size = span / buckets
    out = [0.0] * buckets
    for s in samples:
        age = (now - s.recorded_at).total_seconds()
        if 0 <= age < span:
            out[buckets - 1 - int(age // size)] += s.rows / size
    return out
