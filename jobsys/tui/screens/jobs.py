"""JOB_LIST (seed 001 §3, §7.1): the status line, failed jobs pinned first, every key."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Rule, Static
from textual.widgets.option_list import Option

from jobsys.tui import clipboard, rendering
from jobsys.tui.filtering import JobFilter
from jobsys.tui.poller import Snapshot
from jobsys.tui.screens.confirm import ConfirmScreen
from jobsys.tui.screens.detail import DetailScreen
from jobsys.tui.screens.filter import FilterScreen
from jobsys.tui.screens.help import HelpScreen
from jobsys.tui.screens.logs import LogScreen

if TYPE_CHECKING:
    from jobsys.tui.app import JobsApp

#: jobs drawn in the list at most (the rest are counted in the status line; f narrows);
#: Textual's OptionList measures every entry on each change, so this bounds a redraw
SHOWN = 200
ACTIVE = frozenset({"RUNNING", "PENDING", "QUEUED", "DISPATCHED"})


class JobsScreen(Screen[None]):
    """The list of jobs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "down", "Navigate", key_display="j/k"),
        Binding("k,up", "up", "Previous", show=False),
        Binding("g", "first", "First", show=False),
        Binding("G", "last", "Last", show=False),
        Binding("enter", "detail", "Details", key_display="Enter"),
        Binding("l", "logs", "Logs", show=False),
        Binding("R", "retry", "Retry", show=False),
        Binding("c", "cancel", "Cancel", show=False),
        Binding("S", "stop", "Stop backtest", show=False),
        Binding("y", "copy", "Copy path", show=False),
        Binding("o", "open", "Open folder", show=False),
        Binding("f", "filter", "Filter", show=False),
        Binding("P", "pipeline", "Pipeline"),
        Binding("m", "monitor", "Monitor"),
        Binding("x", "clear", "Clear done", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("escape", "reset_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.job_filter = JobFilter()
        self.shown_ids: list[str] = []
        self._drawn_at = 0.0

    @property
    def jobs_app(self) -> JobsApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Pipeline (hidden), status line, rule, the list, a notice line, the key bar."""
        with Vertical(id="frame") as frame:
            frame.border_title = "JOBS"
            pipeline = Static(id="pipeline")
            pipeline.border_title = "PIPELINE"
            yield pipeline
            yield Static("connecting to the store…", id="status")
            yield Rule(line_style="double")
            yield Static(id="notice")
            yield OptionList(id="jobs")
        yield Footer()

    def on_mount(self) -> None:
        """Draw what is known already."""
        self.query_one("#jobs", OptionList).focus()
        self.set_class(self.jobs_app.show_pipeline, "-pipeline")
        self.query_one("#pipeline").set_class(self.jobs_app.show_pipeline, "shown")
        if self.jobs_app.snapshot is not None:
            self.show_snapshot(self.jobs_app.snapshot, force=True)

    def on_screen_resume(self) -> None:
        """Back from another screen or mode: redraw with the latest poll."""
        if self.jobs_app.snapshot is not None:
            self.show_snapshot(self.jobs_app.snapshot, force=True)

    def on_resize(self) -> None:
        """Lines are cut to the width: redraw."""
        if self.jobs_app.snapshot is not None:
            self.show_snapshot(self.jobs_app.snapshot, force=True)

    # --- drawing --------------------------------------------------------------------------

    def rows_in_view(self, snap: Snapshot) -> list[Any]:
        """The jobs the list shows: filtered, cleared ones left out, failed first."""
        cleared = self.jobs_app.cleared
        rows = [j for j in snap.jobs.values() if j.id not in cleared and self.job_filter.matches(j)]
        rows.sort(key=rendering.sort_key)
        return rows[:SHOWN]

    def show_snapshot(self, snap: Snapshot, force: bool = False) -> None:
        """Redraw after a poll: always the status line; the list when something changed."""
        notice = self.query_one("#notice", Static)
        if snap.error is not None:
            notice.update(f"⚠ store unreachable: {snap.error} — retrying")
            notice.add_class("shown")
        else:
            notice.remove_class("shown")
        if snap.error is not None and not snap.jobs and not snap.counts:
            self.query_one("#status", Static).update("no data yet")
            return
        now = self.jobs_app.now()
        status = rendering.status_line(rendering.totals(snap.counts, snap.figures))
        if self.job_filter.active:
            status.append(f"   filter: {self.job_filter.text}", "yellow")
        self.query_one("#status", Static).update(status)
        stale = now.timestamp() - self._drawn_at > 5  # "2m ago" moves on
        if not (force or snap.changed or stale):
            return
        self._drawn_at = now.timestamp()
        rows = self.rows_in_view(snap)
        if self.jobs_app.show_pipeline:
            pipeline = rendering.pipeline(list(snap.jobs.values()), now)
            self.query_one("#pipeline", Static).update(rendering.pipeline_text(pipeline))
        self._fill(rows, snap, now)

    def _fill(self, rows: list[Any], snap: Snapshot, now: Any) -> None:
        options = self.query_one("#jobs", OptionList)
        current = options.highlighted_option.id if options.highlighted_option else None
        width = max(40, options.size.width - 2 if options.size.width else self.size.width - 4)
        home = self.jobs_app.client.settings.resolved_home.parent
        prompts = [
            Option(rendering.job_text(j, now, width, snap.waiting, home), id=j.id) for j in rows
        ]
        if not prompts:
            empty = "no jobs yet: submit one (jobsys submit …) and it shows here"
            if self.job_filter.active or self.jobs_app.cleared:
                empty = "no job matches (Esc clears the filter)"
            prompts = [Option(empty, id="-empty", disabled=True)]
        options.set_options(prompts)
        self.shown_ids = [j.id for j in rows]
        if current in self.shown_ids:
            options.highlighted = self.shown_ids.index(current)
        elif self.shown_ids:
            options.highlighted = 0

    # --- the selected job -----------------------------------------------------------------

    def selected(self) -> Any | None:
        """The highlighted job's latest row, if any."""
        options = self.query_one("#jobs", OptionList)
        snap = self.jobs_app.snapshot
        option = options.highlighted_option
        if option is None or snap is None or option.id is None:
            return None
        return snap.jobs.get(option.id)

    def _need(self, what: str) -> Any | None:
        job = self.selected()
        if job is None:
            self.notify(f"{what}: no job selected", severity="warning")
        return job

    # --- keys -----------------------------------------------------------------------------

    def action_down(self) -> None:
        """j / ↓."""
        self.query_one("#jobs", OptionList).action_cursor_down()

    def action_up(self) -> None:
        """k / ↑."""
        self.query_one("#jobs", OptionList).action_cursor_up()

    def action_first(self) -> None:
        """g."""
        self.query_one("#jobs", OptionList).action_first()

    def action_last(self) -> None:
        """G."""
        self.query_one("#jobs", OptionList).action_last()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a job: its detail panel."""
        event.stop()
        self.action_detail()

    def action_detail(self) -> None:
        """Enter: DETAIL_PANEL."""
        job = self._need("details")
        if job is not None:
            self.app.push_screen(DetailScreen(job.id))

    def action_logs(self) -> None:
        """l: LOG_VIEWER."""
        job = self._need("logs")
        if job is not None:
            self.app.push_screen(LogScreen(job.id))

    def action_help(self) -> None:
        """?: the keys."""
        self.app.push_screen(HelpScreen())

    def action_filter(self) -> None:
        """f: FILTER_DIALOG; Enter applies, Esc keeps the filter as it was."""
        snap = self.jobs_app.snapshot
        types = sorted({j.job_type for j in snap.jobs.values()}) if snap else []

        def done(result: JobFilter | None) -> None:
            if result is not None:
                self.job_filter = result
                self._redraw()

        self.app.push_screen(FilterScreen(self.job_filter, types), done)

    def action_reset_filter(self) -> None:
        """Esc in the list: drop the filter."""
        if self.job_filter.active:
            self.job_filter = JobFilter()
            self._redraw()

    def action_pipeline(self) -> None:
        """P: toggle the pipeline summary (no change of state)."""
        self.jobs_app.show_pipeline = not self.jobs_app.show_pipeline
        self.query_one("#pipeline").set_class(self.jobs_app.show_pipeline, "shown")
        self._redraw()

    def action_monitor(self) -> None:
        """m: MONITORING_PANEL."""
        self.app.switch_mode("monitor")

    def action_clear(self) -> None:
        """x: hide completed jobs from the view (their history stays in the store)."""
        snap = self.jobs_app.snapshot
        done = [
            j.id
            for j in (snap.jobs.values() if snap else [])
            if j.status in rendering.DONE and not rendering.failed(j)
        ]
        fresh = [i for i in done if i not in self.jobs_app.cleared]
        if not fresh:
            self.notify("no completed jobs to clear", severity="warning")
            return
        self.jobs_app.cleared.update(fresh)
        self.notify(f"cleared {len(fresh)} completed job(s) from the view (history kept)")
        self._redraw()

    def action_retry(self) -> None:
        """R: retry a failed job (a fresh set of attempts)."""
        job = self._need("retry")
        if job is None:
            return
        if job.status not in ("FAILED", "CANCELLED"):
            self.notify(f"retry: job {job.id[:8]} is {job.status}, not failed", severity="warning")
            return
        client = self.jobs_app.client
        self.jobs_app.act(f"retrying job {job.id[:8]}", lambda: client.retry(job.id))

    def action_cancel(self) -> None:
        """c: cancel a running or queued job, after a confirm."""
        job = self._need("cancel")
        if job is None:
            return
        if job.status not in ACTIVE:
            self.notify(f"cancel: job {job.id[:8]} is {job.status}", severity="warning")
            return
        client = self.jobs_app.client

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.jobs_app.act(f"cancelled job {job.id[:8]}", lambda: client.cancel(job.id))

        question = f"Cancel {rendering.label(job.job_type)} {job.id[:8]} ({job.status})?"
        self.app.push_screen(ConfirmScreen(question), confirmed)

    def action_stop(self) -> None:
        """S: stop a running backtest, after a confirm.

        With a ``stop_file`` the backtest ends gracefully (``user_stopped``, with its
        figures so far); without one it is cancelled through the client.
        """
        job = self._need("stop")
        if job is None:
            return
        if job.job_type != "data.backtest" or job.status not in ACTIVE:
            self.notify("stop: only a running backtest can be stopped", severity="warning")
            return
        stop_file = (job.params or {}).get("stop_file")
        client = self.jobs_app.client

        def stop() -> None:
            if stop_file:
                Path(stop_file).touch()
            else:
                client.cancel(job.id)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.jobs_app.act(f"stopping backtest {job.id[:8]}", stop)

        how = "gracefully (stop file)" if stop_file else "by cancelling it (no stop file)"
        self.app.push_screen(ConfirmScreen(f"Stop backtest {job.id[:8]} {how}?"), confirmed)

    def action_copy(self) -> None:
        """y: copy the output path."""
        job = self._need("copy")
        if job is None:
            return
        if not job.output_path:
            self.notify(f"copy: job {job.id[:8]} has no output path", severity="warning")
            return
        where = clipboard.copy(job.output_path, self.app.copy_to_clipboard)
        self.notify(f"copied {job.output_path} to the {where}")

    def action_open(self) -> None:
        """o: open the folder of a completed export."""
        job = self._need("open")
        if job is None:
            return
        if job.job_type != "data.export" or job.status not in rendering.DONE:
            self.notify("open: only a completed export has a folder to open", severity="warning")
            return
        folder = job.output_path or (job.outputs or {}).get("output_dir")
        command = clipboard.opener()
        if command is None or not folder:
            self.notify(f"no file manager to open here; the export is in {folder}")
            return
        subprocess.Popen([*command, folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.notify(f"opened {folder}")

    def _redraw(self) -> None:
        if self.jobs_app.snapshot is not None:
            self.show_snapshot(self.jobs_app.snapshot, force=True)
