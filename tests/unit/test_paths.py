"""Path inputs confined to ``JOBSYS_SOURCE_ROOTS``; output locations confined to the outputs.

Each rule on its own (absolute paths elsewhere, ``..``, symlinks and symlink chains out of
a root, NUL bytes, missing files), at submit (``validate_inputs``: an ``InputError`` naming
the field) and in the worker (a symlink swapped after submit fails the attempt), then
hypothesis fuzzing of path strings against a real tree of folders and symlinks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import BaseModel

from jobsys import Invariant, JobContext, SourcePath, job_type
from jobsys.client import Client
from jobsys.errors import ConfigError, InputError, PathRefused
from jobsys.execution import placement, runner
from jobsys.jobtypes import JobTypeRegistry, discover, spec_of, validate_inputs
from jobsys.lifecycle import JobState
from jobsys.paths import confine
from jobsys.runtime import Runtime
from jobsys.settings import Settings, load_settings
from jobsys.testing import make_context

SAFE = Invariant("reads_only", "reads its path, writes nothing")


class ReadIn(BaseModel):
    """A path to read, and optional extra paths."""

    path: SourcePath
    more: list[SourcePath] = []


class ReadOut(BaseModel):
    """How many bytes were read."""

    size: int


@job_type("t.read", capability="t.read@1", invariants=[SAFE])
def read(inputs: ReadIn, ctx: JobContext) -> ReadOut:
    """Read the file."""
    return ReadOut(size=len(Path(inputs.path).read_bytes()))


READ = spec_of(read)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """in/ (the root) with a file, a folder, symlinks in and out and a chain; out/ beside it."""
    base = tmp_path_factory.mktemp("tree")
    root, out = base / "in", base / "out"
    (root / "sub").mkdir(parents=True)
    out.mkdir()
    (root / "a.txt").write_text("inside")
    (root / "sub" / "b.txt").write_text("inside too")
    (out / "secret.txt").write_text("outside")
    (root / "link_in").symlink_to(root / "sub")
    (root / "link_out").symlink_to(out)
    (root / "file_out").symlink_to(out / "secret.txt")
    (root / "chain1").symlink_to(root / "chain2")  # chain1 -> chain2 -> out/
    (root / "chain2").symlink_to(out)
    (root / "loop").symlink_to(root / "loop")
    return {"base": base, "root": root.resolve(), "out": out.resolve()}


def roots(tree: dict[str, Path]) -> tuple[Path, ...]:
    return (tree["root"],)


def check(tree: dict[str, Path], path: str) -> BaseModel:
    return validate_inputs(READ, {"path": path}, roots=roots(tree))


# --- one rule at a time, at submit ----------------------------------------------------------


def test_a_path_inside_the_root_is_accepted_unchanged(tree: dict[str, Path]) -> None:
    given_path = str(tree["root"] / "sub" / "b.txt")
    assert check(tree, given_path).path == given_path  # type: ignore[attr-defined]
    assert check(tree, str(tree["root"] / "link_in" / "b.txt"))  # a symlink staying inside


def test_an_absolute_path_elsewhere_is_refused_naming_field_roots_and_setting(
    tree: dict[str, Path],
) -> None:
    with pytest.raises(InputError) as caught:
        check(tree, "/etc/passwd")
    assert caught.value.field == "path"
    message = caught.value.format_message()
    assert "/etc/passwd is outside the source roots" in message
    assert str(tree["root"]) in message and "set JOBSYS_SOURCE_ROOTS" in message


def test_dot_dot_climbing_out_of_the_root_is_refused(tree: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="outside the source roots"):
        check(tree, f"{tree['root']}/sub/../../out/secret.txt")
    # `..` that stays inside is fine
    assert check(tree, f"{tree['root']}/sub/../a.txt")


@pytest.mark.parametrize("name", ["link_out/secret.txt", "file_out", "chain1/secret.txt"])
def test_symlinks_and_chains_pointing_out_are_refused(tree: dict[str, Path], name: str) -> None:
    with pytest.raises(InputError, match=r"outside the source roots .*it resolves to .*out"):
        check(tree, str(tree["root"] / name))


def test_a_symlink_loop_is_refused_not_crashed_on(tree: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="cannot be resolved"):
        check(tree, str(tree["root"] / "loop" / "x"))


def test_a_missing_file_inside_is_left_to_the_job_but_not_through_a_link_out(
    tree: dict[str, Path],
) -> None:
    assert check(tree, str(tree["root"] / "not-yet.csv"))
    with pytest.raises(InputError, match="outside the source roots"):
        check(tree, str(tree["root"] / "link_out" / "not-yet.csv"))


def test_nul_bytes_are_refused_even_when_unconfined() -> None:
    with pytest.raises(InputError, match="contains a NUL byte") as caught:
        validate_inputs(READ, {"path": "/data/a\x00b"})
    assert caught.value.field == "path"


def test_no_roots_configured_means_unconfined() -> None:
    assert validate_inputs(READ, {"path": "/etc/passwd"})
    assert Settings().path_roots == ()


def test_list_items_are_checked_and_named_by_index(tree: dict[str, Path]) -> None:
    inside = str(tree["root"] / "a.txt")
    with pytest.raises(InputError) as caught:
        validate_inputs(READ, {"path": inside, "more": [inside, "/etc"]}, roots=roots(tree))
    assert caught.value.field == "more.1"


def test_outputs_are_readable_once_source_roots_are_set(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", source_roots=[tmp_path / "in"])
    assert settings.path_roots == ((tmp_path / "in").resolve(), settings.outputs_root)
    earlier = settings.outputs_root / "data.parse" / "job1" / "tables.parquet"
    assert validate_inputs(READ, {"path": str(earlier)}, roots=settings.path_roots)


def test_every_path_input_of_the_shipped_job_types_is_confined(tree: dict[str, Path]) -> None:
    registry = discover()
    asset = str(uuid4())
    cases = {
        "generate_thumbnails": ("source_path", {"asset_uuid": asset}),
        "generate_video_proxies": ("source_path", {"asset_uuid": asset}),
        "generate_audio_waveform": ("source_path", {"asset_uuid": asset}),
        "transcribe_audio": ("source_path", {"asset_uuid": asset}),
        "data.scan": ("root", {}),
        "data.parse": ("path", {"parser": "csv"}),
        "data.parse#catalog": ("catalog", {"parser": "csv", "path": str(tree["root"])}),
        "data.backtest": ("stop_file", {"parser": "csv", "paths": [str(tree["root"])]}),
        "data.export": ("paths", {}),
        "data.schema": ("paths", {"action": "observe", "parser": "csv"}),
        "data.materialize": ("catalog", {"name": "d", "parser": "csv", "selection": {"tag": "x"}}),
    }
    for name, (field, rest) in cases.items():
        spec = registry.get(name.partition("#")[0])
        bad: Any = ["/etc/passwd"] if field in {"paths"} else "/etc/passwd"
        with pytest.raises(InputError, match="outside the source roots") as caught:
            validate_inputs(spec, {**rest, field: bad}, roots=roots(tree))
        assert caught.value.field.startswith(field), name


def test_parsed_table_paths_given_to_export_are_confined(tree: dict[str, Path]) -> None:
    spec = discover().get("data.export")
    parsed = [{"tables": [{"table": "t", "path": "/etc/passwd"}]}]
    with pytest.raises(InputError) as caught:
        validate_inputs(spec, {"parsed": parsed}, roots=roots(tree))
    assert caught.value.field == "parsed.0.tables.0.path"


# --- settings -------------------------------------------------------------------------------


def test_source_roots_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSYS_SOURCE_ROOTS", "/data/in, /srv/media")
    assert load_settings().source_roots == [Path("/data/in"), Path("/srv/media")]
    monkeypatch.setenv("JOBSYS_SOURCE_ROOTS", '["/data/in"]')
    assert load_settings().source_roots == [Path("/data/in")]
    monkeypatch.setenv("JOBSYS_SOURCE_ROOTS", "data/in")
    with pytest.raises(ConfigError, match="JOBSYS_SOURCE_ROOTS.*must be an absolute folder"):
        load_settings()


# --- outputs --------------------------------------------------------------------------------


class AssetIn(BaseModel):
    """An asset, and a free-text profile that names part of the output location."""

    asset: str
    profile: str = "small"


def publish(inputs: AssetIn, ctx: JobContext) -> ReadOut:
    """Publish nothing."""
    return ReadOut(size=0)


ASSET = spec_of(
    job_type(
        "t.asset",
        capability="t.asset@1",
        invariants=[SAFE],
        asset="asset",
        output_key=lambda i: f"{i.profile}/x",
    )(publish)
)


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        ({"asset": "a1", "profile": "../../etc"}, "output_key"),
        ({"asset": "a1", "profile": "/abs"}, "output_key"),
        ({"asset": "..", "profile": "small"}, "asset"),
        ({"asset": "a/b", "profile": "small"}, "asset"),
    ],
)
def test_an_output_location_that_would_climb_out_is_refused_at_submit(
    inputs: dict[str, str], field: str
) -> None:
    with pytest.raises(InputError, match="cannot name an output folder") as caught:
        validate_inputs(ASSET, inputs)
    assert caught.value.field == field
    assert validate_inputs(ASSET, {"asset": "a1", "profile": "h264_360p"})


def test_an_output_folder_symlinked_out_of_the_outputs_root_is_refused(tmp_path: Path) -> None:
    outputs, elsewhere = tmp_path / "outputs", tmp_path / "elsewhere"
    outputs.mkdir()
    elsewhere.mkdir()
    (outputs / "t.read").symlink_to(elsewhere)
    with pytest.raises(PathRefused, match="escapes the outputs folder"):
        placement.output_location(outputs, READ, None, "job1")


# --- in the worker ----------------------------------------------------------------------------


@pytest.fixture
def confined(tmp_path: Path, tree: dict[str, Path]) -> Iterator[tuple[Client, Runtime]]:
    settings = Settings(home=tmp_path / "home", source_roots=[tree["root"]])
    runtime = Runtime(settings, JobTypeRegistry([READ]))
    with Client(runtime=runtime) as client:
        yield client, runtime


def test_a_symlink_swapped_after_submit_fails_the_attempt_in_the_worker(
    tmp_path: Path, tree: dict[str, Path], confined: tuple[Client, Runtime]
) -> None:
    client, runtime = confined
    swap = tree["root"] / f"swap-{tmp_path.name}"
    swap.symlink_to(tree["root"] / "a.txt")
    ok = client.submit("t.read", path=str(swap))
    later = client.submit("t.read", path=str(swap))
    runner.run_attempt(runtime, READ, ok.id)
    assert client.job(ok.id).outputs == {"size": len("inside")}
    swap.unlink()
    swap.symlink_to(tree["out"] / "secret.txt")  # swapped between submit and run
    runner.run_attempt(runtime, READ, later.id)
    job = client.job(later.id)
    assert job.status == JobState.FAILED.value
    assert "outside the source roots" in (job.error or "") and "path" in (job.error or "")
    assert job.outputs is None


def test_a_catalog_selection_outside_the_roots_fails_the_job(
    tmp_path: Path, tree: dict[str, Path]
) -> None:
    from tasks.data import catalog
    from tasks.data.scan import ScanInput, scan

    catalog_file = tmp_path / "catalog.sqlite"
    scan(ScanInput(root=str(tree["out"]), catalog=str(catalog_file)), make_context(tmp_path))
    ctx = make_context(tmp_path)
    assert catalog.select_files(str(catalog_file), ctx, catalog.Selection(glob="*.txt"))
    ctx.path_roots = roots(tree)
    with pytest.raises(PathRefused, match="selection: .*secret.txt is outside the source roots"):
        catalog.select_files(str(catalog_file), ctx, catalog.Selection(glob="*.txt"))


# --- fuzzing ----------------------------------------------------------------------------------

SEGMENTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "a.txt",
        "sub",
        "b.txt",
        "link_in",
        "link_out",
        "file_out",
        "chain1",
        "loop",
        "secret.txt",
        "out",
        "in",
        "ünïcødé",
        "日本",
        "\u202e",
        "x\x00y",
        "~",
        "a" * 300,
        "%2e%2e",
    ]
)
PREFIXES = st.sampled_from(["<root>/", "<base>/", "/", "", "~/", "/etc/", "//", "<root>/../"])


@st.composite
def path_strings(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(PREFIXES) + "/".join(draw(st.lists(SEGMENTS, max_size=8)))
    return draw(st.text(max_size=60))


def _is_inside(path: str, tree: dict[str, Path]) -> bool:
    real = os.path.realpath(os.path.expanduser(path))
    return Path(real).is_relative_to(tree["root"])


@hsettings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=path_strings())
@example(raw="<root>/link_out/../a.txt")  # `..` after a symlink: resolved from its target
@example(raw="<root>/" + "a" * 5000)  # a name far over NAME_MAX
@example(raw="<root>/chain1/secret.txt")
@example(raw="\x00")
@example(raw="")
def test_fuzzed_paths_are_inside_the_root_or_refused_naming_the_field(
    raw: str, tree: dict[str, Path]
) -> None:
    path = raw.replace("<root>", str(tree["root"])).replace("<base>", str(tree["base"]))
    try:
        resolved = confine(path, roots(tree), field="source_path")
    except PathRefused as exc:
        assert str(exc).startswith("source_path: ")
        assert exc.reason  # says why
        refused = True
    else:
        refused = False
        assert resolved.is_relative_to(tree["root"])
    if "\x00" not in path and path and not refused:
        assert _is_inside(path, tree)
    if "\x00" not in path and path:
        try:
            inside = _is_inside(path, tree)
        except (OSError, ValueError):
            inside = False
        if not inside:
            assert refused, f"{path!r} is outside the root but was accepted"
    # The same through validate_inputs: an InputError naming the field, nothing else.
    try:
        validate_inputs(READ, {"path": path}, roots=roots(tree))
    except InputError as exc:
        assert exc.field == "path"
        assert refused or path == ""
    else:
        assert not refused
