"""MONITORING_PANEL (seed 001 §5): queue, throughput over 5 minutes, sinks; p, r, Tab."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from jobsys.tui import rendering
from jobsys.tui.poller import Snapshot

if TYPE_CHECKING:
    from jobsys.tui.app import JobsApp

CHART_HEIGHT = 5


class Panel(Static, can_focus=True):
    """A bordered panel that Tab can reach."""


def queue_text(counts: dict[str, int], depth: Sequence[int], width: int) -> Text:
    """Pending / running / done / failed and the queue-depth sparkline."""
    t = rendering.totals(counts, None)
    text = Text()
    for name, value in (
        ("Pending", t.waiting),
        ("Running", t.running),
        ("Done", t.done),
        ("Failed", t.failed),
    ):
        text.append(f"{name + ':':<9}{value:>9,}\n", "red" if name == "Failed" and value else "")
    text.append("\nDepth: ")
    text.append(rendering.sparkline([float(d) for d in depth], max(4, width - 9)), "cyan")
    return text


def throughput_text(rates: list[float], elapsed: float, width: int) -> Text:
    """The bar chart and average vs now."""
    chart = rendering.bar_chart(rates, max(10, width), CHART_HEIGHT)
    text = Text("\n".join(chart) + "\n", "green")
    total = sum(rates) * (300.0 / len(rates)) if rates else 0.0
    avg = total / max(1.0, min(300.0, elapsed))
    now = rates[-1] if rates else 0.0
    arrow = "▲" if now > avg else "▼" if now < avg else "="
    text.append(f"{_rate(avg)} rows/s avg   {_rate(now)} now {arrow}")
    return text


def _rate(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def sinks_text(sinks: Sequence[Any], latencies: Sequence[float]) -> Text:
    """Per sink: bytes and errors; per output: bytes and rows; write latency p50/p99."""
    text = Text()
    if not sinks:
        text.append("no sink figures yet (data jobs record them as they write)", "dim")
    by_uri: dict[str, list[Any]] = {}
    for row in sinks:
        by_uri.setdefault(row.sink_uri, []).append(row)
    for uri, outputs in by_uri.items():
        size = rendering.human_bytes(sum(int(o.bytes or 0) for o in outputs))
        errors = sum(int(o.errors or 0) for o in outputs)
        text.append(f"{uri:<38}", "bold")
        text.append(f"{size:>10} total   ")
        text.append(f"{errors:,} errors\n", "red" if errors else "")
        for o in outputs:
            text.append(
                f"  └─ {o.output:<32}{rendering.human_bytes(int(o.bytes or 0)):>10}"
                f"   {int(o.rows or 0):>12,} rows\n"
            )
    p50, p99 = rendering.percentile(latencies, 0.5), rendering.percentile(latencies, 0.99)
    text.append(f"\nWrite latency: {p50:.0f}ms (p50)  {p99:.0f}ms (p99)  (last 5 min)")
    return text


class MonitorScreen(Screen[None]):
    """Live figures: the queue, throughput, sinks."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("p", "pause", "Pause updates"),
        Binding("r", "reset", "Reset stats"),
        Binding("tab", "app.focus_next", "Next panel", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.paused = False
        #: figures counted from here on (``r``); None: everything recorded
        self.reset_at: datetime | None = None
        self.baseline: dict[tuple[str, str], tuple[int, int, int]] = {}

    @property
    def jobs_app(self) -> JobsApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Queue and throughput side by side, sinks below."""
        with Vertical(id="frame") as frame:
            frame.border_title = "MONITORING"
            with Horizontal(id="top"):
                yield Panel(id="queue", classes="panel")
                yield Panel(id="throughput", classes="panel")
            yield Panel(id="sinks", classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        """Titles; start reading sink figures."""
        for panel, title in (("queue", "QUEUE"), ("throughput", "THROUGHPUT (5m)")):
            self.query_one(f"#{panel}").border_title = title
        self.query_one("#sinks").border_title = "SINKS"
        self.query_one("#queue").focus()

    def on_screen_resume(self) -> None:
        """Entered: the poller reads sink figures while this panel is open."""
        self.jobs_app.poller.monitoring = True
        self.jobs_app.poller.refresh_sinks()
        self.jobs_app.poll_now()
        if self.jobs_app.snapshot is not None:
            self.show_snapshot(self.jobs_app.snapshot)

    def on_resize(self) -> None:
        """The sparkline and chart fill the panels' width: redraw."""
        if self.jobs_app.snapshot is not None:
            self.call_after_refresh(self.show_snapshot, self.jobs_app.snapshot)

    def on_screen_suspend(self) -> None:
        """Left: no need for sink figures."""
        self.jobs_app.poller.monitoring = False

    def show_snapshot(self, snap: Snapshot) -> None:
        """Redraw, unless paused."""
        title = "MONITORING" + ("  ⏸ paused (p resumes)" if self.paused else "")
        self.query_one("#frame").border_title = title
        if self.paused:
            return
        now = self.jobs_app.now()
        samples = [
            s for s in snap.samples if self.reset_at is None or s.recorded_at > self.reset_at
        ]
        queue = self.query_one("#queue", Panel)
        width = max(10, queue.size.width - 4)
        queue.update(queue_text(snap.counts, list(self.jobs_app.depth), width))
        rates = rendering.throughput(samples, now)
        first = min((s.recorded_at for s in samples), default=now)
        elapsed = (now - first).total_seconds() + 300.0 / len(rates)
        chart_width = max(10, self.query_one("#throughput").size.width - 4)
        self.query_one("#throughput", Panel).update(throughput_text(rates, elapsed, chart_width))
        latencies = [float(s.write_latency_ms) for s in samples if s.writes]
        self.query_one("#sinks", Panel).update(sinks_text(self._since_reset(snap.sinks), latencies))

    def _since_reset(self, sinks: Sequence[Any]) -> list[Any]:
        if not self.baseline:
            return list(sinks)
        out = []
        for row in sinks:
            rows, size, errors = self.baseline.get((row.sink_uri, row.output), (0, 0, 0))
            out.append(
                _SinkRow(
                    row.sink_uri,
                    row.output,
                    int(row.rows or 0) - rows,
                    int(row.bytes or 0) - size,
                    int(row.errors or 0) - errors,
                )
            )
        return out

    def action_back(self) -> None:
        """Esc: the list."""
        self.app.switch_mode("jobs")

    def action_pause(self) -> None:
        """p: freeze the figures (polling goes on)."""
        self.paused = not self.paused
        self.notify("updates paused" if self.paused else "updates resumed")
        if self.jobs_app.snapshot is not None:
            self.show_snapshot(self.jobs_app.snapshot)

    def action_reset(self) -> None:
        """r: count from now on (the store keeps everything)."""
        snap = self.jobs_app.snapshot
        self.reset_at = self.jobs_app.now()
        self.baseline = {
            (r.sink_uri, r.output): (int(r.rows or 0), int(r.bytes or 0), int(r.errors or 0))
            for r in (snap.sinks if snap else [])
        }
        self.jobs_app.depth.clear()
        self.jobs_app.poller.refresh_sinks()
        self.notify("statistics reset")
        if snap is not None:
            was, self.paused = self.paused, False
            self.show_snapshot(snap)
            self.paused = was


class _SinkRow:
    """A sink figure counted since the last reset."""

    def __init__(self, sink_uri: str, output: str, rows: int, size: int, errors: int) -> None:
        self.sink_uri, self.output = sink_uri, output
        self.rows, self.bytes, self.errors = rows, size, errors
