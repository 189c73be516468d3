"""LOG_VIEWER: the job's log file (its last attempt's), followed while it grows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Log

from jobsys.errors import JobsysError
from jobsys.store import queries

if TYPE_CHECKING:
    from jobsys.tui.app import JobsApp

#: the last bytes of a log the viewer loads
TAIL_BYTES = 512_000


class LogScreen(Screen[None]):
    """Full-screen logs of one job."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.path: Path | None = None
        self._offset = 0

    def compose(self) -> ComposeResult:
        """The log."""
        log = Log(id="log-body", highlight=False)
        log.border_title = f"LOGS {self.job_id[:8]}"
        yield log
        yield Footer()

    def on_mount(self) -> None:
        """Find the log, load its tail, and follow it."""
        app: JobsApp = self.app  # type: ignore[assignment]
        log = self.query_one(Log)
        try:
            job = app.read(lambda conn: queries.get_job(conn, self.job_id))
            runs = app.read(lambda conn: queries.runs_of(conn, self.job_id))
        except JobsysError as exc:
            log.write_line(f"cannot read the job: {exc.format_message()}")
            return
        named = [r.log_path for r in runs if r.log_path]
        default = app.client.runtime.logs_root / f"{self.job_id}.log"
        self.path = Path(named[-1]) if named else default
        log.border_subtitle = str(self.path)
        if not self.path.exists():
            log.write_line(f"no log yet at {self.path} (status {job.status})")
            failed = [r for r in runs if r.traceback]
            if failed:
                log.write_line("")
                log.write_line(f"traceback of attempt {failed[-1].attempt}:")
                log.write_lines(str(failed[-1].traceback).splitlines())
        self.follow()
        self.set_interval(1.0, self.follow)

    def follow(self) -> None:
        """Append what was written since the last read."""
        if self.path is None or not self.path.exists():
            return
        size = self.path.stat().st_size
        if size <= self._offset:
            return
        with self.path.open("rb") as f:
            f.seek(max(self._offset, size - TAIL_BYTES))
            text = f.read().decode("utf-8", errors="replace")
        self._offset = size
        self.query_one(Log).write(text)

    def action_back(self) -> None:
        """Esc."""
        self.app.pop_screen()
