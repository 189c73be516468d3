"""FILTER_DIALOG: type words of a job type and/or a status; Enter applies, Esc does not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from jobsys.tui.filtering import STATUS_WORDS, JobFilter


class FilterScreen(ModalScreen[JobFilter | None]):
    """Edit the list's filter."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back")]

    def __init__(self, current: JobFilter, job_types: Sequence[str]) -> None:
        super().__init__()
        self.current = current
        self.job_types = list(job_types)

    def compose(self) -> ComposeResult:
        """The input and what may be typed."""
        with Vertical(id="dialog"):
            yield Static("[b]Filter jobs[/b] by type and/or status (empty: show all)")
            yield Input(self.current.text, placeholder="e.g. parse failed", id="filter-input")
            yield Static(f"statuses: {', '.join(STATUS_WORDS)}")
            types = ", ".join(self.job_types) or "(none yet)"
            yield Static(f"types: {types}")
            yield Static("[b]Enter[/b] apply    [b]Esc[/b] back")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: apply."""
        self.dismiss(JobFilter(event.value.strip()))

    def action_cancel(self) -> None:
        """Esc: keep the filter as it was."""
        self.dismiss(None)
