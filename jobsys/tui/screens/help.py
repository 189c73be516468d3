"""?: every key of seed 001 §7."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = """\
[b]Job list[/b]
  j / ↓     next job                 k / ↑   previous job
  g         first                    G       last
  Enter     details                  l       logs
  R         retry failed             c       cancel (confirm)
  S         stop backtest (confirm)  y       copy output path
  o         open export folder       f       filter by type/status
  P         pipeline summary         m       monitoring panel
  x         clear completed          ?       this help
  Esc       back / clear filter      q       quit
[b]Monitoring[/b]
  p  pause/resume   r  reset stats   Tab  next panel   Esc  back"""


class HelpScreen(ModalScreen[None]):
    """The keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Back"),
    ]

    def compose(self) -> ComposeResult:
        """The key table."""
        with VerticalScroll(id="help") as box:
            box.border_title = "HELP"
            yield Static(KEYS)

    def action_close(self) -> None:
        """Back to the list."""
        self.dismiss(None)
