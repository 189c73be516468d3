"""Job inputs fuzzed with hypothesis, for every registered job type.

``Client.submit`` with arbitrary parameters either enqueues a job whose stored params
are what the job type's model made of them, or raises a ``JobsysError`` naming the
field (an ``InputError``) — never anything else. ``jobsys submit TYPE -i k=v`` and
``--json`` run in-process through the CLI's error boundary: exit 0 with a job id, or
exit 2 with one ``error:`` line naming the field, and no traceback.
"""

from __future__ import annotations

import json
import math
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from jobsys.client import Client
from jobsys.errors import InputError, JobsysError
from jobsys.jobtypes import discover
from jobsys.settings import Settings
from tests.unit._cli import run_cli

REGISTRY = discover()
NAMES = sorted(spec.name for spec in REGISTRY)
FUZZ = settings(
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),  # NaN and infinities included
    st.text(max_size=30),
    st.sampled_from(
        ["", "\x00", "../../etc/passwd", "/etc/passwd", "${{ item }}", "日本", "\u202e"]
    ),
    st.uuids().map(str),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def _typed(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of the field's own type where hypothesis can build them, else JSON."""
    try:
        strategy = st.from_type(annotation)
        strategy.validate()
    except Exception:  # a pydantic model or a constrained type hypothesis cannot build
        return JSON
    return strategy


@st.composite
def params_for(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """Some of the job type's fields (typed or junk values), sometimes an unknown key."""
    model: type[BaseModel] = REGISTRY.get(name).input_model
    fields = model.model_fields
    chosen = draw(st.lists(st.sampled_from(sorted(fields)), unique=True)) if fields else []
    params = {
        f: draw(st.one_of(_typed(fields[f].annotation), JSON) if _simple(fields[f]) else JSON)
        for f in chosen
    }
    if draw(st.integers(0, 9)) == 0:
        params[draw(st.text(max_size=10))] = draw(JSON)
    return params


def _simple(field: Any) -> bool:
    origin = typing.get_origin(field.annotation)
    return origin is None and field.annotation in {int, float, str, bool}


@st.composite
def any_submission(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(NAMES))
    return name, draw(params_for(name))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    home = tmp_path_factory.mktemp("inputs") / "home"
    with Client(Settings(home=home, source_roots=[Path("/data/in")])) as c:
        yield c


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.slow
@FUZZ
@given(submission=any_submission())
@example(submission=("data.parse", {"path": "/data/in/x\x00.csv", "parser": "csv"}))
@example(submission=("generate_thumbnails", {"asset_uuid": "x", "source_path": "/etc/passwd"}))
@example(submission=("demo.echo", {"message": "a\x00b"}))  # found: PostgreSQL cannot store it
@example(submission=("demo.choose", {"choose": ["ok", "\x00"]}))
@example(submission=("demo.echo", {"message": "x", 1: "a", "b": 2}))  # found: TypeError (sort)
def test_submit_enqueues_valid_inputs_or_names_the_bad_field(
    submission: tuple[str, dict[str, Any]], client: Client
) -> None:
    name, params = submission
    spec = REGISTRY.get(name)
    try:
        handle = client.submit(name, params)
    except InputError as exc:
        fields = set(spec.input_model.model_fields)
        named = exc.field.partition(".")[0]
        assert named in fields | {str(k) for k in params} | {"(inputs)", "output_key"}, exc
        assert exc.reason
        event("refused")
        return
    except JobsysError as exc:  # pragma: no cover - any other error would be a finding
        pytest.fail(f"{name}: unexpected {type(exc).__name__}: {exc}")
    stored = client.job(handle.id).params
    expected = spec.input_model.model_validate(params).model_dump(mode="json")
    assert _json_equal(stored, expected)
    event("enqueued")


PAIRS = st.lists(
    st.tuples(st.text(max_size=12), st.text(max_size=20)).map(lambda kv: f"{kv[0]}={kv[1]}")
    | st.text(max_size=12),
    max_size=4,
)


@pytest.mark.slow
@settings(
    max_examples=80,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from([*NAMES, "no.such.type", ""]),
    pairs=PAIRS,
    raw=st.none() | st.text(max_size=30) | JSON.map(json.dumps),
)
@example(name="demo.echo", pairs=["message=hi"], raw=None)
@example(name="demo.count", pairs=["n=1e400"], raw=None)
@example(name="demo.echo", pairs=[], raw='{"message": NaN}')
def test_the_submit_command_exits_with_a_job_id_or_an_error_line(
    name: str,
    pairs: list[str],
    raw: str | None,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBSYS_HOME", str(tmp_path_factory.getbasetemp() / "cli-home"))
    argv = ["submit", name, *[a for p in pairs for a in ("-i", p)]]
    if raw is not None:
        argv += ["--json", raw]
    result = run_cli(*argv)
    code, out, err = result.code, result.out, result.err
    if code == 0:
        assert len(out.strip()) == 36, out  # the job's id
    else:
        assert code == 2, (code, out, err)
        assert err.startswith(("error: ", "Usage: ")) and err.strip(), err


@pytest.mark.parametrize("glob", ["[z-a]", "!", "\\"])
def test_a_bad_selection_glob_is_refused_at_submit(glob: str, client: Client) -> None:
    # found: accepted at submit, then re.error / GitIgnorePatternError in the worker
    params = {"name": "d", "parser": "csv", "selection": {"glob": glob}}
    with pytest.raises(InputError, match="not a gitignore-style pattern") as caught:
        client.submit("data.materialize", params)
    assert caught.value.field == "selection"
