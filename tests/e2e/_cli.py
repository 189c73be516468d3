"""Running the ``jobsys`` command as a user does: a subprocess with a clean environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def jobsys_command() -> list[str]:
    """The installed console script (beside this interpreter), else ``python -m jobsys``."""
    script = Path(sys.executable).with_name("jobsys")
    if script.is_file():
        return [str(script)]
    found = shutil.which("jobsys")
    return [found] if found else [sys.executable, "-m", "jobsys"]


def clean_environ(**extra: str) -> dict[str, str]:
    """The caller's environment without ``JOBSYS_*``, plus ``extra``; wide, plain output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSYS_")}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}, **extra)
    return env


@dataclass
class Ran:
    """A finished ``jobsys`` process."""

    args: list[str]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"jobsys {' '.join(self.args)} -> {self.code}\n{self.stdout}\n{self.stderr}"


Run = Callable[..., Ran]


def run_jobsys(args: list[str], cwd: Path, timeout: float = 60, **env: str) -> Ran:
    """Run the ``jobsys`` script in ``cwd`` with a clean environment plus ``env``."""
    proc = subprocess.run(
        [*jobsys_command(), *args],
        cwd=cwd,
        env=clean_environ(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Ran(args, proc.returncode, proc.stdout, proc.stderr)
