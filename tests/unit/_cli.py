"""``jobsys ARGV`` run in-process, as the fuzz tests call it thousands of times."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import pytest

from jobsys.cli import main


@dataclass
class Cli:
    code: int
    out: str
    err: str


def run_cli(*argv: str, stdin: str = "") -> Cli:
    """``jobsys ARGV`` in-process, through its error boundary; anything else escaping fails."""
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setattr("sys.stdin", io.StringIO(stdin))
        try:
            main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # pragma: no cover - main always exits
            code = 0
    result = Cli(code, out.getvalue(), err.getvalue())
    assert "Traceback" not in result.out + result.err, result
    return result
