"""Job types: the ``@job_type`` decorator, the frozen ``JobType`` spec and its registry.

A job type is a plain function ``fn(inputs: In, ctx: JobContext) -> Out``. The
decorator checks seed 003 §2's structure (name, required capability, input model,
expected outputs model, invariants) and returns the function unchanged, so it can
be called directly in a test. Discovery imports the modules named by the
``jobsys.jobtypes`` entry points (and ``Settings.jobtype_modules``) and collects
every decorated function. Nothing here imports Celery or SQLAlchemy.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import pkgutil
import re
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ValidationError

from jobsys import fingerprint, paths
from jobsys.capabilities import Capability
from jobsys.context import JobContext
from jobsys.errors import DefinitionError, InputError, PathRefused, UnknownJobType

I = TypeVar("I", bound=BaseModel)  # noqa: E741
O = TypeVar("O", bound=BaseModel)  # noqa: E741

ENTRY_POINT_GROUP = "jobsys.jobtypes"
_NAME = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$")
_ATTR = "__jobtype__"


@dataclass(frozen=True)
class RetryPolicy:
    """How retryable failures are retried: exponential backoff with jitter."""

    max_attempts: int = 3
    backoff: float = 1.0
    max_backoff: float = 300.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise DefinitionError("retry.max_attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0:
            raise DefinitionError("retry.backoff and retry.max_backoff must not be negative")


@dataclass(frozen=True)
class Invariant:
    """A declared invariant; ``before``/``after`` make it checked around every attempt.

    ``before(inputs, ctx)`` returns a snapshot; ``after(inputs, output, ctx, snapshot)``
    raises ``FatalJobError`` saying what was violated.
    """

    name: str
    description: str
    before: Callable[[Any, JobContext], Any] | None = None
    after: Callable[[Any, Any, JobContext, Any], None] | None = None


@dataclass(frozen=True)
class JobType(Generic[I, O]):
    """The registered, frozen description of one job type."""

    name: str
    capability: Capability
    input_model: type[I]
    output_model: type[O]
    fn: Callable[[I, JobContext], O]
    invariants: tuple[Invariant, ...]
    fatal: tuple[type[BaseException], ...] = ()
    retryable: tuple[type[BaseException], ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    soft_time_limit: float | None = None
    time_limit: float | None = None
    engines: tuple[str, ...] = ()
    version: int = 1
    description: str = ""
    #: input field holding the asset UUID: outputs then live at a location derived from it
    asset: str | None = None
    #: input field holding the read-only source path: fingerprinted, checked unchanged, deduplicated
    source: str | None = None
    #: the profile part of the output location, from the inputs (``"default"`` when absent)
    output_key: Callable[[Any], str] | None = None

    def missing_engines(self) -> list[str]:
        """Modules this job type needs that are not importable here."""
        return [m for m in self.engines if not _importable(m)]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a dotted name whose parent package is missing
        return False


def _models_from_hints(fn: Callable[..., Any]) -> tuple[Any, Any]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolved forward references: let the explicit arguments decide
        return None, None
    params = [p for p in inspect.signature(fn).parameters if p in hints]
    first = hints.get(params[0]) if params else None
    return first, hints.get("return")


def source_unchanged(field: str) -> Invariant:
    """The invariant "the source named by input ``field`` is neither modified nor moved"."""

    def before(inputs: Any, ctx: JobContext) -> fingerprint.Fingerprint:
        return fingerprint.take(getattr(inputs, field))

    def after(inputs: Any, output: Any, ctx: JobContext, snap: fingerprint.Fingerprint) -> None:
        fingerprint.check_unchanged(getattr(inputs, field), snap)

    return Invariant(
        "source_unchanged",
        f"the source ({field}) is opened read-only, never modified or moved "
        "(size, mtime and SHA-256 compared before and after)",
        before=before,
        after=after,
    )


def _check_fields(name: str, model: type[BaseModel], **fields: str | None) -> None:
    for option, field_name in fields.items():
        if field_name is not None and field_name not in model.model_fields:
            raise DefinitionError(
                f"{option}={field_name!r} is not a field of {model.__name__}", subject=name
            )


def _check_exceptions(name: str, label: str, classes: Sequence[type[BaseException]]) -> None:
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            raise DefinitionError(f"{label} must list exception classes, got {cls!r}", subject=name)


def job_type(  # noqa: C901 - one check per part of seed 003's structure
    name: str,
    *,
    capability: str,
    invariants: Sequence[Invariant],
    input: type[BaseModel] | None = None,  # noqa: A002 - the seed's word
    output: type[BaseModel] | None = None,
    fatal: Sequence[type[BaseException]] = (),
    retryable: Sequence[type[BaseException]] = (),
    retry: RetryPolicy | None = None,
    soft_time_limit: float | None = None,
    time_limit: float | None = None,
    engines: Sequence[str] = (),
    version: int = 1,
    asset: str | None = None,
    source: str | None = None,
    output_key: Callable[[Any], str] | None = None,
) -> Callable[[Callable[[I, JobContext], O]], Callable[[I, JobContext], O]]:
    """Register ``fn(inputs, ctx) -> output`` as a job type; return ``fn`` unchanged.

    Input and output models default to the function's annotations. Rejected with a
    ``DefinitionError`` when any part of the structure is missing or malformed.

    Seed 003's media rules, enforced rather than documented: ``asset`` names the
    input field with the asset UUID, so outputs are published at
    ``<outputs>/<name>/<asset>/<output_key(inputs)>/v<major>`` instead of a per-job
    folder; ``source`` names the read-only source path field, which adds the
    ``source_unchanged`` invariant and lets a rerun on an unchanged source be
    recorded as SKIPPED (``jobsys.execution.dedup``).
    """

    def decorate(fn: Callable[[I, JobContext], O]) -> Callable[[I, JobContext], O]:
        if not _NAME.match(name):
            raise DefinitionError(
                "job type name must be lower-case words joined by dots", subject=name
            )
        cap = Capability.parse(capability)
        hinted_in, hinted_out = _models_from_hints(fn)
        in_model, out_model = input or hinted_in, output or hinted_out
        for label, model in (("input", in_model), ("output (expected_outputs)", out_model)):
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise DefinitionError(
                    f"{label} model missing: annotate the function or pass a pydantic model",
                    subject=name,
                )
        if not invariants or not all(isinstance(i, Invariant) for i in invariants):
            raise DefinitionError(
                "declare at least one Invariant (seed 003: every job states its invariants)",
                subject=name,
            )
        _check_fields(name, in_model, asset=asset, source=source)
        if output_key is not None and asset is None:
            raise DefinitionError(
                "output_key needs asset= (the location's first part)", subject=name
            )
        checks = tuple(invariants)
        if source is not None:
            checks += (source_unchanged(source),)
        _check_exceptions(name, "fatal", fatal)
        _check_exceptions(name, "retryable", retryable)
        if soft_time_limit is not None and soft_time_limit <= 0:
            raise DefinitionError("soft_time_limit must be positive", subject=name)
        if time_limit is not None and time_limit <= 0:
            raise DefinitionError("time_limit must be positive", subject=name)
        if time_limit is not None and soft_time_limit is not None and time_limit <= soft_time_limit:
            raise DefinitionError("time_limit must exceed soft_time_limit", subject=name)
        doc = inspect.getdoc(fn) or ""
        spec: JobType[Any, Any] = JobType(
            name=name,
            capability=cap,
            input_model=in_model,
            output_model=out_model,
            fn=fn,
            invariants=checks,
            fatal=tuple(fatal),
            retryable=tuple(retryable),
            retry=retry or RetryPolicy(),
            soft_time_limit=soft_time_limit,
            time_limit=time_limit,
            engines=tuple(engines),
            version=version,
            description=doc.splitlines()[0] if doc else "",
            asset=asset,
            source=source,
            output_key=output_key,
        )
        setattr(fn, _ATTR, spec)
        return fn

    return decorate


def spec_of(fn: Callable[..., Any]) -> JobType[Any, Any]:
    """The spec a decorated function carries."""
    spec = getattr(fn, _ATTR, None)
    if not isinstance(spec, JobType):
        raise DefinitionError(f"{fn!r} is not decorated with @job_type")
    return spec


class JobTypeRegistry:
    """Job types by name; also records modules that could not be imported and why."""

    def __init__(self, specs: Iterable[JobType[Any, Any]] = ()) -> None:
        self._specs: dict[str, JobType[Any, Any]] = {}
        self.skipped: dict[str, str] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: JobType[Any, Any]) -> None:
        """Register one spec; two different functions may not share a name."""
        known = self._specs.get(spec.name)
        if known is not None and known.fn is not spec.fn:
            raise DefinitionError("job type registered twice", subject=spec.name)
        self._specs[spec.name] = spec

    def get(self, name: str) -> JobType[Any, Any]:
        """The spec named ``name``, or ``UnknownJobType``."""
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownJobType(name, list(self._specs)) from None

    def __iter__(self) -> Iterator[JobType[Any, Any]]:
        return iter(sorted(self._specs.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._specs)

    def by_capability(self) -> dict[Capability, list[JobType[Any, Any]]]:
        """Job types grouped by the capability they need."""
        out: dict[Capability, list[JobType[Any, Any]]] = {}
        for spec in self:
            out.setdefault(spec.capability, []).append(spec)
        return dict(sorted(out.items()))

    def add_module(self, module: ModuleType) -> None:
        """Collect decorated functions from a module and, for a package, its submodules."""
        for value in vars(module).values():
            spec = getattr(value, _ATTR, None)
            if isinstance(spec, JobType):
                self.add(spec)
        if hasattr(module, "__path__"):
            for info in pkgutil.iter_modules(module.__path__, module.__name__ + "."):
                self.import_module(info.name)

    def import_module(self, name: str) -> None:
        """Import ``name`` and collect its job types; a failed import is recorded, not fatal."""
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            self.skipped[name] = f"{exc.name or name} not installed ({exc})"
            return
        self.add_module(module)


def discover(extra_modules: Iterable[str] = ()) -> JobTypeRegistry:
    """A registry of every job type named by entry points plus ``extra_modules``."""
    registry = JobTypeRegistry()
    names = [ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    for name in [*names, *extra_modules]:
        registry.import_module(name)
    return registry


def first_nul(value: Any, loc: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where the first NUL character sits in a JSON-like value (a key or a string), or None.

    PostgreSQL cannot store U+0000 in text or JSON, so inputs and manifests refuse it.
    """
    if isinstance(value, str):
        return loc if "\x00" in value else None
    items: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    for key, item in items:
        here = (*loc, key if isinstance(key, int) else str(key))
        if isinstance(key, str) and "\x00" in key:
            return here
        found = first_nul(item, here)
        if found is not None:
            return found
    return None


def output_parts(spec: JobType[Any, Any], inputs: BaseModel) -> tuple[str, list[str]]:
    """The asset folder and ``output_key`` folders of an ``asset=`` job type's outputs.

    ``PathRefused`` naming the field when a value could not name a folder inside the
    outputs root (``..``, ``/``, odd characters).
    """
    if spec.asset is None:
        raise DefinitionError("output_parts needs asset=", subject=spec.name)
    asset = paths.output_segment(getattr(inputs, spec.asset), field=spec.asset)
    key = spec.output_key(inputs) if spec.output_key is not None else "default"
    return asset, paths.output_segments(key)


def validate_inputs(
    spec: JobType[Any, Any],
    inputs: Mapping[str, Any] | BaseModel,
    *,
    roots: Sequence[Path] = (),
) -> BaseModel:
    """The inputs as the job type's model, or an ``InputError`` naming the first bad field.

    ``roots`` (``Settings.path_roots``) confine the model's ``SourcePath`` fields.
    """
    if isinstance(inputs, spec.input_model) and not roots:
        return cast(BaseModel, inputs)
    if isinstance(inputs, BaseModel):
        data = inputs.model_dump()
    elif isinstance(inputs, Mapping):
        data = dict(inputs)
    else:
        raise InputError(spec.name, "(inputs)", f"must be a mapping, not {type(inputs).__name__}")
    fields = spec.input_model.model_fields
    if spec.input_model.model_config.get("extra") != "allow":
        known = set(fields) | {f.alias for f in fields.values() if f.alias}
        unknown = sorted((k for k in data if k not in known), key=str)
        if unknown:
            expected = ", ".join(sorted(fields)) or "no inputs"
            raise InputError(spec.name, str(unknown[0]), f"unknown input (expected: {expected})")
    try:
        validated: BaseModel = spec.input_model.model_validate(data, context=paths.context(roots))
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        field_name = ".".join(str(p) for p in first["loc"]) or "(inputs)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(spec.name, field_name, f"{first['msg']}{more}") from exc
    nul = first_nul(validated.model_dump(mode="json"))
    if nul is not None:
        where = ".".join(str(p) for p in nul) or "(inputs)"
        raise InputError(
            spec.name, where, "contains a NUL character (U+0000), which cannot be stored"
        )
    if spec.asset is not None:  # the output location is derived from the inputs: check it now
        try:
            output_parts(spec, validated)
        except PathRefused as exc:
            raise InputError(spec.name, exc.field, f"{exc.path} {exc.reason}") from exc
    return validated
