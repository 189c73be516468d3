"""Manifests fuzzed with hypothesis: lint and apply never crash, every problem is located.

Inputs: random YAML-ish text, random YAML documents, and the shipped manifests
(``config/manifests/*.job.yaml``) mutated (keys deleted or replaced, wrong types,
deep nesting, huge numbers, odd unicode, tabs, duplicate keys, several documents,
anchors and aliases). The loader and linter run in-process for speed; ``jobsys lint``
and ``jobsys apply`` run in-process through the CLI's own error boundary
(``jobsys.cli.main``), so "no traceback" means what it means for a user.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jobsys.jobtypes import discover
from jobsys.workflows.lint import lint
from jobsys.workflows.loader import MAX_NODES, load_text
from tests.unit._cli import run_cli

REPO = Path(__file__).resolve().parents[3]
SEEDS = {p.name: p.read_text() for p in sorted((REPO / "config" / "manifests").glob("*.job.yaml"))}
REGISTRY = discover()
LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<rule>[a-z-]+): .+", re.S)
FUZZ = settings(
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- strategies ---------------------------------------------------------------------------

ODD = st.sampled_from(
    [
        "",
        "\t",
        "ünï",
        "日本語",
        "\u202e",
        "\U0001f600",
        "${{",
        "${{ item }}",
        "~",
        "null",
        "a" * 500,
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    ODD,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_manifest(draw: st.DrawFn) -> str:
    """A shipped manifest with one to three structural mutations, dumped back to YAML."""
    data = yaml.safe_load(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 3))):
        _mutate(draw, data)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _containers(value: Any, depth: int = 0) -> Iterator[Any]:
    if isinstance(value, dict | list) and depth < 10:
        yield value
        for child in value.values() if isinstance(value, dict) else value:
            yield from _containers(child, depth + 1)


def _mutate(draw: st.DrawFn, data: Any) -> None:
    target = draw(st.sampled_from(list(_containers(data))))
    keys = list(target) if isinstance(target, dict) else list(range(len(target)))
    action = draw(st.sampled_from(["delete", "replace", "nest", "add", "huge"]))
    if not keys or action == "add":
        key: Any = draw(st.text(max_size=8) | ODD) if isinstance(target, dict) else len(target)
        value = draw(JSON)
        if isinstance(target, dict):
            target[key] = value
        else:
            target.append(value)
        return
    key = draw(st.sampled_from(keys))
    if action == "delete":
        del target[key]
    elif action == "replace":
        target[key] = draw(JSON)
    elif action == "nest":
        depth = draw(st.integers(1, 80))
        value = target[key]
        for _ in range(depth):
            value = [value] if draw(st.booleans()) else {"k": value}
        target[key] = value
    else:
        target[key] = draw(st.sampled_from([10**30, -(10**30), 1e308, float("inf"), 2**63]))


@st.composite
def text_mutation(draw: st.DrawFn) -> str:
    """A shipped manifest edited as text: tabs, duplicated lines, cut, extra documents."""
    lines = SEEDS[draw(st.sampled_from(sorted(SEEDS)))].splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["tab", "dup", "cut", "doc", "anchor", "char", "drop"]))
        if edit == "tab":
            lines[i] = "\t" + lines[i]
        elif edit == "dup":
            lines.insert(i, lines[i])  # often a duplicate key
        elif edit == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif edit == "doc":
            lines.insert(i, "---")
        elif edit == "anchor":
            lines[i] = lines[i] + draw(
                st.sampled_from([" &a", " *a", " *nowhere", " !!binary", " !x"])
            )
        elif edit == "char":
            lines[i] = lines[i] + draw(st.characters(codec="utf-8"))
        elif len(lines) > 1:
            del lines[i]
    return "\n".join(lines) + "\n"


DOCUMENTS = st.one_of(
    st.text(max_size=200),
    JSON.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    mutated_manifest(),
    text_mutation(),
)

# --- the checks ---------------------------------------------------------------------------


def lint_text(text: str) -> list[str]:
    """Load and lint ``text``; every problem must be located and carry a rule."""
    problems = [p for doc in load_text(text, "f.job.yaml") for p in lint(doc, REGISTRY)]
    lines = [str(p) for p in problems]
    for line in lines:
        assert LOCATED.match(line), line
        assert int(line.split(":")[1]) >= 1 and int(line.split(":")[2]) >= 1
    return lines


@pytest.fixture(scope="module")
def manifest_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "f.job.yaml"


@pytest.mark.slow
@FUZZ
@given(text=DOCUMENTS)
@example(text="a: \x00")  # found: ReaderError escaped (NUL is not allowed in YAML)
@example(text="a: \ud800")  # found: a lone surrogate, the same
@example(text="[" * 2000 + "]" * 2000)  # found: RecursionError in the composer
@example(text="".join("  " * i + f"k{i}:\n" for i in range(400)))  # and for mappings
@example(text="? [a, b]\n: 1\n")  # found: ConstructorError (unhashable key) escaped
@example(text="!!python/object:os.system [ls]\n")  # found: ConstructorError (unsafe tag)
@example(text="steps:\n- &s {name: a, type: demo.echo, with: {message: *s}}\n")  # recursive
@example(text='apiVersion: jobsys/v1\nkind: "Job\\0"\n')  # found: PostgreSQL cannot store U+0000
@example(text="\ufeffapiVersion: jobsys/v1\n---\n---\nkind: Job\n...\n")
def test_lint_never_crashes_and_locates_every_problem(text: str) -> None:
    lint_text(text)


def billion_laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_quickly_without_expanding_it() -> None:
    start = time.perf_counter()
    problems = lint_text(billion_laughs())  # 9**9 (387 million) strings once expanded
    assert time.perf_counter() - start < 5
    assert problems == [
        f"f.job.yaml:{problems[0].split(':')[1]}:{problems[0].split(':')[2]}: too-large: "
        f"expands to more than {MAX_NODES} nodes (aliases repeating aliases?)"
    ]


def test_ordinary_aliases_still_work() -> None:
    text = SEEDS["nightly-echo.job.yaml"].replace("  who: night shift", "  who: &w night shift")
    text = text.replace("times: 2", "times: 2\n      # the same value twice\n    # x") + "# *w\n"
    assert lint_text(text) == []


def test_lint_cli_reports_bad_manifests_with_file_line_col_and_exit_1(
    manifest_file: Path,
) -> None:
    manifest_file.write_text(
        "apiVersion: jobsys/v1\nkind: Job\nmetadata: {name: x}\nsteps: [\x01]\n"
    )
    ran = run_cli("lint", str(manifest_file))
    assert ran.code == 1
    assert ran.out.startswith(f"{manifest_file}:4:9: yaml-syntax: character U+0001")


@pytest.mark.slow
@settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=DOCUMENTS)
@example(text=billion_laughs())
@example(text="[" * 2000 + "]" * 2000)
def test_the_lint_command_never_prints_a_traceback(text: str, manifest_file: Path) -> None:
    manifest_file.write_text(text, encoding="utf-8", errors="surrogatepass")
    ran = run_cli("lint", str(manifest_file))
    assert ran.code in (0, 1), ran
    if ran.code == 1:
        problems = ran.out.splitlines() or ran.err.splitlines()
        assert problems and all(LOCATED.match(p) for p in problems), ran


@pytest.mark.slow
@settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=DOCUMENTS)
@example(text=SEEDS["nightly-echo.job.yaml"])
@example(text=billion_laughs())
def test_apply_never_crashes_and_writes_only_valid_templates(
    text: str, manifest_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBSYS_HOME", str(manifest_file.parent / "home"))
    manifest_file.write_text(text, encoding="utf-8", errors="surrogatepass")
    ran = run_cli("apply", "-f", str(manifest_file))
    assert ran.code in (0, 1), ran
    problems = lint_text(text)
    if problems:  # what lint finds, apply refuses, saying where
        assert ran.code == 1, ran
        assert any(LOCATED.match(line) for line in (ran.out + ran.err).splitlines()), ran
    if ran.code == 1:
        assert problems or "error" in (ran.out + ran.err).lower(), ran


@pytest.mark.parametrize("glob", ["[z-a].job.yaml", "!", "\\"])
def test_a_bad_sync_glob_is_a_config_error_naming_the_option(glob: str, tmp_path: Path) -> None:
    # found: re.error / GitIgnorePatternError escaped from `jobsys sync git --glob`
    from jobsys.client import Client
    from jobsys.errors import ConfigError
    from jobsys.settings import Settings
    from jobsys.workflows.gitsync import GitConfig

    from .test_gitsync import Upstream, config, manifest

    upstream = Upstream(tmp_path / "upstream")
    upstream.commit({"a.job.yaml": manifest("alpha")})
    with Client(Settings(home=tmp_path / "home")) as client:
        cfg = config(client, str(upstream.bare))
        bad = GitConfig(repo=cfg.repo, ref="main", workdir=cfg.workdir, glob=glob)
        with pytest.raises(ConfigError, match="--glob .*not a gitignore-style pattern") as caught:
            client.sync_git(bad)
        assert caught.value.setting == "--glob"
