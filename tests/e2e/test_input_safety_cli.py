"""Hostile inputs through the installed ``jobsys`` script: a clear error, never a traceback.

A handful of real subprocess runs; the fuzzing itself runs the CLI in-process
(tests/unit/test_input_fuzz.py, tests/unit/workflows/test_manifest_fuzz.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._cli import Run

pytestmark = pytest.mark.e2e


def test_a_source_path_outside_the_roots_is_refused_naming_field_and_setting(
    jobsys: Run, workdir: Path
) -> None:
    root = workdir / "in"
    root.mkdir()
    (root / "escape").symlink_to("/etc")
    for path in ("/etc/passwd", f"{root}/escape/passwd"):
        ran = jobsys(
            "submit",
            "data.parse",
            "-i",
            f"path={path}",
            "-i",
            "parser=csv",
            JOBSYS_SOURCE_ROOTS=str(root),
        )
        assert ran.code == 2, str(ran)
        assert "Traceback" not in ran.stdout + ran.stderr
        assert ran.stderr.startswith("error: data.parse: input 'path': "), ran.stderr
        assert f"is outside the source roots ({root}" in ran.stderr
        assert "set JOBSYS_SOURCE_ROOTS" in ran.stderr


def test_an_alias_bomb_and_a_nul_are_lint_problems_with_file_line_col(
    jobsys: Run, workdir: Path
) -> None:
    bomb = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    (workdir / "bomb.job.yaml").write_text("\n".join(bomb) + "\n")
    (workdir / "nul.job.yaml").write_text('apiVersion: jobsys/v1\nkind: "Job\\0"\n')
    ran = jobsys("lint", "bomb.job.yaml", "nul.job.yaml", timeout=30)
    assert ran.code == 1, str(ran)
    assert "Traceback" not in ran.stdout + ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("bomb.job.yaml:1:")
    assert ": too-large: expands to more than 100000 nodes" in lines[0]
    assert "nul.job.yaml:2:1: nul-character: kind: contains U+0000" in lines


def test_json_inputs_with_a_nul_or_the_wrong_shape_are_refused(jobsys: Run) -> None:
    ran = jobsys("submit", "demo.echo", "--json", '{"message": "a\\u0000b"}')
    assert ran.code == 2 and "Traceback" not in ran.stderr, str(ran)
    assert "input 'message': contains a NUL character" in ran.stderr
    ran = jobsys("submit", "demo.echo", "--json", "[1, 2]")
    assert ran.code == 2 and ran.stderr.startswith("error: cli: input '--json'"), str(ran)
