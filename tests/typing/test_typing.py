"""mypy --strict passes on the files in tests/typing/ (click's tests/typing/ idea)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[1]
CHECKED = sorted(HERE.glob("typing_*.py"))


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: p.name)
def test_mypy_strict_accepts(path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
