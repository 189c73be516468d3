"""Copy text to the system clipboard when a tool for it exists, else through the terminal.

Over SSH or on a machine without a display, the terminal's OSC 52 escape puts the text on
the clipboard of the machine the terminal runs on (most terminals support it; tmux needs
``set -g set-clipboard on``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

#: (tool, arguments, the environment variable its clipboard needs, or None)
TOOLS: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("pbcopy", (), None),
    ("wl-copy", (), "WAYLAND_DISPLAY"),
    ("xclip", ("-selection", "clipboard"), "DISPLAY"),
    ("xsel", ("--clipboard", "--input"), "DISPLAY"),
)


def system_tool() -> list[str] | None:
    """The command that writes the system clipboard here, or None."""
    for tool, args, needs in TOOLS:
        path = shutil.which(tool)
        if path and (needs is None or os.environ.get(needs)):
            return [path, *args]
    return None


def copy(text: str, osc52: Callable[[str], None]) -> str:
    """Copy ``text``; return where it went ("system clipboard (xclip)" or "… OSC 52")."""
    command = system_tool()
    if command is not None:
        try:
            subprocess.run(command, input=text.encode(), check=True, timeout=2)
            return f"system clipboard ({os.path.basename(command[0])})"
        except (OSError, subprocess.SubprocessError):
            pass
    osc52(text)
    return "terminal clipboard (OSC 52)"


def opener() -> list[str] | None:
    """The command that opens a folder in the desktop's file manager, or None."""
    for tool, needs in (("open", None), ("xdg-open", "DISPLAY")):
        path = shutil.which(tool)
        if path and (needs is None or os.environ.get(needs) or os.environ.get("WAYLAND_DISPLAY")):
            return [path]
    return None
