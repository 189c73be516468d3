"""``jobsys ui`` in tmux, driven as a person would: send-keys, then read the pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobsys.client import Client
from jobsys.testing import wait_until

pytestmark = pytest.mark.e2e


class Tmux:
    """A tmux server of this test's own (its own socket), one window running a command."""

    def __init__(self, command: list[str], env: dict[str, str], size: tuple[int, int]) -> None:
        self.socket = f"jobsys-ui-{uuid.uuid4().hex[:8]}"
        self.env = env
        width, height = size
        self.run(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "ui",
            "-x",
            str(width),
            "-y",
            str(height),
            " ".join(command),
        )
        self.run("set-option", "-s", "escape-time", "0")

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        return done.stdout

    def keys(self, *keys: str) -> None:
        """Type keys (tmux key names: Enter, Escape, j…)."""
        for key in keys:
            self.run("send-keys", "-t", "ui", key)

    def screen(self) -> str:
        """What the pane shows."""
        return self.run("capture-pane", "-p", "-t", "ui")

    def shows(self, text: str, timeout: float = 30.0) -> str:
        """Wait until the pane shows ``text``; the pane."""
        return wait_until(
            lambda: self.screen() if text in self.screen() else "",
            timeout,
            0.2,
            f"the pane to show {text!r}:\n{self.screen()}",
        )

    def hides(self, text: str, timeout: float = 30.0) -> None:
        """Wait until the pane no longer shows ``text``."""
        wait_until(lambda: text not in self.screen(), timeout, 0.2, f"{text!r} to go")

    def alive(self) -> bool:
        return "ui" in self.run("list-sessions", "-F", "#{session_name}")

    def kill(self) -> None:
        self.run("kill-server")


@pytest.fixture
def tmux(seeded_client: Client, tmp_path: Path) -> Iterator[Tmux]:
    """``jobsys ui`` on the seeded store in an 80×24 tmux pane."""
    if shutil.which("tmux") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tmux is not installed (CI=true: a missing tool is a failure)")
        pytest.skip("tmux is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBSYS_", "TMUX"))}
    env.update(JOBSYS_HOME=str(seeded_client.settings.resolved_home), TERM="xterm-256color")
    script = Path(sys.executable).with_name("jobsys")  # the console script of this install
    command = [f"cd {tmp_path} &&", "exec", str(script), "ui"]
    session = Tmux(command, env, (80, 24))
    yield session
    session.kill()


def test_jobs_view_in_tmux_as_a_person_uses_it(tmux: Tmux) -> None:
    pane = tmux.shows("✗ PARSE")
    assert "First failure: venue_nyse_20240115.log" in pane
    assert "running" in pane and "failed" in pane
    tmux.keys("Enter")
    assert "INPUTS" in tmux.shows("INPUTS")
    # A terminal sends Esc as one byte: a key right after it would read as Alt+key.
    tmux.keys("Escape")
    tmux.hides("INPUTS")
    tmux.keys("m")
    pane = tmux.shows("MONITORING")
    assert "QUEUE" in pane and "SINKS" in pane
    tmux.keys("Escape")
    tmux.hides("MONITORING")
    tmux.keys("?")
    tmux.shows("HELP")
    tmux.keys("Escape")
    tmux.hides("HELP")
    tmux.keys("q")
    wait_until(lambda: not tmux.alive(), 20, 0.2, "jobsys ui to quit on q")
