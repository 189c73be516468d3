"""``@job_type``: seed 003 §2's structure is checked at registration; the function stays plain."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from jobsys import Invariant, JobContext, RetryPolicy, job_type
from jobsys.errors import DefinitionError, UnknownJobType
from jobsys.jobtypes import JobTypeRegistry, discover, spec_of

SAFE = Invariant("idempotent", "running twice gives the same output")


class In(BaseModel):
    """Inputs."""

    n: int


class Out(BaseModel):
    """Outputs."""

    doubled: int


def double(inputs: In, ctx: JobContext) -> Out:
    """Double a number.

    More words that are not the description.
    """
    return Out(doubled=inputs.n * 2)


def register(**overrides: Any) -> Callable[[In, JobContext], Out]:
    """Decorate ``double`` with a valid definition, changed by ``overrides``."""
    kwargs: dict[str, Any] = {
        "capability": "test.math@1",
        "invariants": [SAFE],
        **overrides,
    }
    name = kwargs.pop("name", "test.double")
    decorated: Callable[[In, JobContext], Out] = job_type(name, **kwargs)(double)
    return decorated


# --- a valid definition -----------------------------------------------------------------------


def test_the_function_is_returned_unchanged_and_callable_directly(tmp_path: Path) -> None:
    assert register() is double
    ctx = JobContext("j1", "test.double", 1, tmp_path / "staging", tmp_path / "j1.log")
    assert double(In(n=21), ctx) == Out(doubled=42)


def test_models_are_inferred_from_the_annotations() -> None:
    spec = spec_of(register())
    assert spec.input_model is In
    assert spec.output_model is Out
    assert spec.fn is double


def test_explicit_models_take_precedence_over_annotations() -> None:
    class Wider(In):
        extra: str = ""

    spec = spec_of(register(input=Wider))
    assert spec.input_model is Wider
    assert spec.output_model is Out


def test_models_may_be_given_when_the_function_is_not_annotated() -> None:
    def untyped(inputs, ctx):  # type: ignore[no-untyped-def]
        return Out(doubled=0)

    job_type("test.untyped", capability="t@1", invariants=[SAFE], input=In, output=Out)(untyped)
    spec = spec_of(untyped)
    assert (spec.input_model, spec.output_model) == (In, Out)


def test_the_spec_records_every_part() -> None:
    policy = RetryPolicy(max_attempts=5, backoff=0.5, max_backoff=10, jitter=False)
    spec = spec_of(
        register(
            fatal=[KeyError],
            retryable=[ConnectionError, TimeoutError],
            retry=policy,
            soft_time_limit=10,
            time_limit=20,
            engines=["json"],
            version=3,
        )
    )
    assert spec.name == "test.double"
    assert str(spec.capability) == "test.math@1"
    assert spec.invariants == (SAFE,)
    assert spec.fatal == (KeyError,)
    assert spec.retryable == (ConnectionError, TimeoutError)
    assert spec.retry == policy
    assert (spec.soft_time_limit, spec.time_limit) == (10, 20)
    assert spec.engines == ("json",)
    assert spec.version == 3
    assert spec.description == "Double a number."


def test_defaults_retry_three_times_with_backoff() -> None:
    spec = spec_of(register())
    assert spec.retry == RetryPolicy()
    assert spec.retry.max_attempts == 3
    assert (spec.fatal, spec.retryable, spec.engines) == ((), (), ())


def test_an_undecorated_function_has_no_spec() -> None:
    def plain(inputs: In, ctx: JobContext) -> Out:
        return Out(doubled=0)

    with pytest.raises(DefinitionError, match="not decorated with @job_type"):
        spec_of(plain)


# --- each missing or malformed part is rejected -----------------------------------------------


@pytest.mark.parametrize("name", ["", "Test.Double", "test double", "test..double", "1test", "t-x"])
def test_bad_names_are_rejected(name: str) -> None:
    with pytest.raises(DefinitionError, match="job type name") as info:
        register(name=name)
    assert info.value.subject == name


@pytest.mark.parametrize("capability", ["", "test.math", "test.math@", "Test@1", "test@x"])
def test_a_missing_or_malformed_capability_is_rejected(capability: str) -> None:
    with pytest.raises(DefinitionError, match="name@major"):
        register(capability=capability)


def test_capability_none_is_rejected_as_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="name@major"):
        register(capability=None)


def test_omitting_capability_or_invariants_fails_at_the_decorator() -> None:
    with pytest.raises(TypeError, match="capability"):
        job_type("test.double", invariants=[SAFE])  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="invariants"):
        job_type("test.double", capability="t@1")  # type: ignore[call-arg]


def test_no_input_model_is_rejected() -> None:
    def no_input(inputs, ctx: JobContext) -> Out:  # type: ignore[no-untyped-def]
        return Out(doubled=0)

    with pytest.raises(DefinitionError, match="input model missing"):
        job_type("test.x", capability="t@1", invariants=[SAFE])(no_input)


def test_an_input_annotation_that_is_not_a_model_is_rejected() -> None:
    def dict_input(inputs: dict[str, int], ctx: JobContext) -> Out:
        return Out(doubled=0)

    with pytest.raises(DefinitionError, match="input model missing"):
        job_type("test.x", capability="t@1", invariants=[SAFE])(dict_input)  # type: ignore[type-var]


def test_no_output_model_is_rejected() -> None:
    def no_output(inputs: In, ctx: JobContext):  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(DefinitionError, match="output .*expected_outputs.* model missing"):
        job_type("test.x", capability="t@1", invariants=[SAFE])(no_output)


def test_an_output_annotation_that_is_not_a_model_is_rejected() -> None:
    def int_output(inputs: In, ctx: JobContext) -> int:
        return 0

    with pytest.raises(DefinitionError, match="output .* model missing"):
        job_type("test.x", capability="t@1", invariants=[SAFE])(int_output)  # type: ignore[type-var]


@pytest.mark.parametrize("invariants", [[], None, ["idempotent"], [SAFE, "x"]])
def test_missing_or_malformed_invariants_are_rejected(invariants: Any) -> None:
    with pytest.raises(DefinitionError, match="Invariant"):
        register(invariants=invariants)


@pytest.mark.parametrize("kind", ["fatal", "retryable"])
@pytest.mark.parametrize("classes", [["ValueError"], [ValueError()], [int], [None]])
def test_failure_classes_must_be_exception_classes(kind: str, classes: list[Any]) -> None:
    with pytest.raises(DefinitionError, match=f"{kind} must list exception classes"):
        register(**{kind: classes})


@pytest.mark.parametrize(
    ("soft", "hard"),
    [(0, None), (-1, None), (None, 0), (None, -5), (10, 10), (10, 5)],
)
def test_bad_time_limits_are_rejected(soft: float | None, hard: float | None) -> None:
    with pytest.raises(DefinitionError, match="time_limit"):
        register(soft_time_limit=soft, time_limit=hard)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"backoff": -1}, {"max_backoff": -0.5}],
)
def test_bad_retry_policies_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(DefinitionError, match="retry"):
        RetryPolicy(**kwargs)


# --- the registry -----------------------------------------------------------------------------


def test_the_registry_finds_job_types_by_name_and_capability() -> None:
    registry = JobTypeRegistry([spec_of(register())])
    assert registry.get("test.double").fn is double
    assert len(registry) == 1
    assert [str(c) for c in registry.by_capability()] == ["test.math@1"]


def test_an_unknown_name_lists_the_known_ones() -> None:
    registry = JobTypeRegistry([spec_of(register())])
    with pytest.raises(UnknownJobType, match=r"unknown job type 'nope' \(known: test.double\)"):
        registry.get("nope")


def test_two_functions_may_not_share_a_name() -> None:
    def other(inputs: In, ctx: JobContext) -> Out:
        return Out(doubled=0)

    registry = JobTypeRegistry([spec_of(register())])
    registry.add(spec_of(register()))  # the same function again: harmless
    job_type("test.double", capability="test.math@1", invariants=[SAFE])(other)
    with pytest.raises(DefinitionError, match="registered twice") as info:
        registry.add(spec_of(other))
    assert info.value.subject == "test.double"


BUILTIN = {
    "jobsys.noop": "jobsys.noop@1",
    "demo.echo": "demo.basic@1",
    "demo.explode": "demo.basic@1",
    "demo.flaky": "demo.basic@1",
    "demo.sleep": "demo.basic@1",
    "demo.render": "demo.gpu@1",
}


def test_discovery_finds_the_builtin_job_types_through_the_entry_point() -> None:
    registry = discover()
    found = {spec.name: str(spec.capability) for spec in registry}
    assert BUILTIN.items() <= found.items()
    assert registry.skipped == {}


@pytest.fixture
def plugin_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable package with one good job-type module and one whose engine is missing."""
    package = tmp_path / "jobsys_plugin_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel
            from jobsys import Invariant, JobContext, job_type

            class In(BaseModel):
                pass

            class Out(BaseModel):
                pass

            @job_type("plugin.good", capability="plugin.good@1",
                      invariants=[Invariant("none", "no side effects")])
            def good(inputs: In, ctx: JobContext) -> Out:
                return Out()
            """
        )
    )
    (package / "needs_engine.py").write_text("import jobsys_no_such_engine_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "jobsys_plugin_pkg"


def test_extra_modules_are_discovered_and_a_failed_import_is_recorded(plugin_package: str) -> None:
    registry = discover([plugin_package, "jobsys_no_such_module_xyz"])
    names = {spec.name for spec in registry}
    assert "plugin.good" in names
    assert BUILTIN.keys() <= names
    assert set(registry.skipped) == {
        f"{plugin_package}.needs_engine",
        "jobsys_no_such_module_xyz",
    }
    reason = registry.skipped[f"{plugin_package}.needs_engine"]
    assert "jobsys_no_such_engine_xyz not installed" in reason


def test_missing_engines_lists_modules_that_cannot_be_imported() -> None:
    spec = spec_of(register(engines=["json", "jobsys_no_such_engine_xyz", "nope_pkg.sub"]))
    assert spec.missing_engines() == ["jobsys_no_such_engine_xyz", "nope_pkg.sub"]
    assert spec_of(register(engines=["json", "sqlite3"])).missing_engines() == []
