"""DETAIL_PANEL: a job's inputs, outputs, attempts, error and traceback, and lineage."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from jobsys.errors import JobsysError
from jobsys.store import queries
from jobsys.tui import rendering

if TYPE_CHECKING:
    from jobsys.tui.app import JobsApp


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str) if value else "-"


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def runs_table(runs: list[Any]) -> Table:
    """One row per attempt."""
    table = Table(box=None, pad_edge=False, expand=True)
    for name in ("#", "status", "started", "ms", "worker", "error"):
        table.add_column(name, overflow="fold")
    for r in runs:
        style = rendering.ICONS.get(r.status, rendering.WAITING_ICON)[1]
        table.add_row(
            str(r.attempt),
            Text(r.status, style),
            _when(r.started_at),
            "" if r.duration_ms is None else f"{r.duration_ms:,}",
            r.worker_id or "",
            (r.error or "").splitlines()[0] if r.error else "",
        )
    return table


def lineage(job: Any, group: Any | None) -> str:
    """Where the job came from: template, schedule, DAG run and step, worker."""
    lines = [f"job        {job.id}", f"type       {job.job_type} v{job.job_type_version}"]
    lines.append(f"capability {job.capability}")
    if job.template_id:
        lines.append(f"template   {job.template_id}")
    if job.schedule_id:
        lines.append(f"schedule   {job.schedule_id}")
    if group is not None:
        name = f" ({group.name})" if group.name else ""
        lines.append(f"run        {group.id}{name} · {group.mode} · {group.status}")
    if job.step:
        item = f" [{job.item_index}]" if job.item_index is not None else ""
        lines.append(f"step       {job.step}{item}")
    lines.append(f"worker     {job.worker_id or '-'}")
    lines.append(f"created    {_when(job.created_at)}   started {_when(job.started_at)}")
    lines.append(f"finished   {_when(job.finished_at)}   attempts {job.attempt}/{job.max_attempts}")
    return "\n".join(lines)


class DetailScreen(Screen[None]):
    """Everything about one job."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id

    def compose(self) -> ComposeResult:
        """Sections, scrollable."""
        with VerticalScroll(id="detail-body") as body:
            body.border_title = f"JOB {self.job_id[:8]}"
            yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        """Read the job, its runs and its group."""
        app: JobsApp = self.app  # type: ignore[assignment]
        try:
            job = app.read(lambda conn: queries.get_job(conn, self.job_id))
            runs = app.read(lambda conn: queries.runs_of(conn, self.job_id))
            group = (
                app.read(lambda conn: queries.get_group(conn, job.group_id))
                if job.group_id
                else None
            )
        except JobsysError as exc:
            self.query_one("#detail", Static).update(f"cannot read the job: {exc}")
            return
        self.query_one(
            "#detail-body"
        ).border_title = f"{rendering.label(job.job_type)} {job.id[:8]} · {job.status}"
        self.query_one("#detail", Static).update(self.render_job(job, runs, group))
        self.query_one("#detail-body").focus()

    def render_job(self, job: Any, runs: list[Any], group: Any | None) -> Any:
        """The sections as one renderable."""
        from rich.console import Group

        parts: list[Any] = [Text("SUMMARY", "bold")]
        now = self.app.now()  # type: ignore[attr-defined]
        parts.append(rendering.job_text(job, now, max(40, self.size.width - 6)))
        if job.output_path:
            size = rendering.human_bytes(job.output_size_bytes)
            parts.append(Text(f"output: {job.output_path} ({size})"))
        parts += [Text("\nINPUTS", "bold"), Text(_json(job.params))]
        parts += [Text("\nOUTPUTS", "bold"), Text(_json(job.outputs))]
        parts += [Text(f"\nRUNS ({len(runs)} attempts)", "bold"), runs_table(runs)]
        if job.error:
            parts += [Text("\nERROR", "bold red"), Text(f"{job.error_type or ''}: {job.error}")]
        traced = [r for r in runs if r.traceback]
        if traced:
            last = traced[-1]
            parts += [Text(f"\nTRACEBACK (attempt {last.attempt})", "bold red")]
            parts.append(Text(str(last.traceback)))
        parts += [Text("\nLINEAGE", "bold"), Text(lineage(job, group))]
        return Group(*parts)

    def action_back(self) -> None:
        """Esc."""
        self.app.pop_screen()
