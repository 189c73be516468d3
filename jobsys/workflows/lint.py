"""Semantic checks of a loaded manifest, each with a rule id and a location.

Rules: duplicate-step, unknown-job-type, params-mismatch, missing-dependency,
duplicate-edge, cycle, invalid-cron, invalid-timezone, unknown-secret-scheme,
bad-expression, expression-scope, branch-output, secret-unresolved (with
``check_secrets``), callback-url (an HTTP callback to a host ``callback_allowed_hosts``
refuses, or a URL carrying a password; with ``hosts``). Schema rules come from
``jobsys.workflows.loader``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, ValidationError

from jobsys.errors import ConfigError, UnknownJobType
from jobsys.jobtypes import JobTypeRegistry
from jobsys.secrets import PREFIX, SecretResolvers
from jobsys.workflows import expressions
from jobsys.workflows.callback_hosts import HostPolicy
from jobsys.workflows.graph import Graph
from jobsys.workflows.loader import Document, Problem
from jobsys.workflows.manifest import CronTrigger, HttpCallback, JobCallback, Manifest, Step


def lint(
    doc: Document,
    registry: JobTypeRegistry,
    *,
    secrets: SecretResolvers | None = None,
    check_secrets: bool = False,
    hosts: HostPolicy | None = None,
) -> list[Problem]:
    """Every problem of one document: its schema problems, then the semantic ones."""
    problems = list(doc.problems)
    if doc.manifest is not None:
        resolvers = secrets or SecretResolvers()
        problems += _semantic(doc, doc.manifest, registry, resolvers, check_secrets)
        if hosts is not None:
            problems += [
                doc.problem(loc, "callback-url", why)
                for loc, why in callback_refusals(doc.manifest, hosts)
            ]
    return sorted(set(problems))


def _semantic(
    doc: Document,
    m: Manifest,
    registry: JobTypeRegistry,
    resolvers: SecretResolvers,
    check_secrets: bool,
) -> Iterator[Problem]:
    names = Counter(s.name for s in m.steps)
    index = {s.name: i for i, s in enumerate(m.steps)}
    for i, step in enumerate(m.steps):
        if names[step.name] > 1 and index[step.name] != i:
            yield doc.problem(("steps", i, "name"), "duplicate-step", f"step {step.name!r} twice")
    yield from _trigger(doc, m)
    yield from _edges(doc, m, index)
    graph = Graph.build([s.name for s in m.steps], [e for e in m.edges() if _known(e, index)])
    cycle = graph.find_cycle()
    if cycle:
        yield doc.problem(("steps", index[cycle[0]]), "cycle", " -> ".join(cycle))
    for i, step in enumerate(m.steps):
        yield from _step(doc, m, i, step, registry, graph if not cycle else None)
    for where, cb in _job_callbacks(m):
        if cb.type not in {s.name for s in registry}:
            yield doc.problem(where, "unknown-job-type", f"unknown job type {cb.type!r}")
    yield from _secrets(doc, doc.data, (), resolvers, check_secrets)


def _known(edge: tuple[str, str], index: dict[str, int]) -> bool:
    return edge[0] in index and edge[1] in index


def _trigger(doc: Document, m: Manifest) -> Iterator[Problem]:
    if not isinstance(m.trigger, CronTrigger):
        return
    try:
        zone = ZoneInfo(m.trigger.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield doc.problem(
            ("trigger", "timezone"),
            "invalid-timezone",
            f"unknown IANA timezone {m.trigger.timezone!r}",
        )
        zone = ZoneInfo("UTC")
    try:
        CronSim(m.trigger.cron, datetime.now(zone))
    except CronSimError as exc:
        yield doc.problem(("trigger", "cron"), "invalid-cron", f"{m.trigger.cron!r}: {exc}")


def _edges(doc: Document, m: Manifest, index: dict[str, int]) -> Iterator[Problem]:
    seen: set[tuple[str, str]] = set()
    for i, step in enumerate(m.steps):
        declared = [(("steps", i, "next", k), (step.name, n)) for k, n in enumerate(step.next)]
        declared += [
            (("steps", i, "dependsOn", k), (d, step.name)) for k, d in enumerate(step.depends_on)
        ]
        for loc, edge in declared:
            missing = [n for n in edge if n not in index]
            if missing:
                yield doc.problem(loc, "missing-dependency", f"step {missing[0]!r} does not exist")
            elif edge in seen:
                yield doc.problem(
                    loc, "duplicate-edge", f"edge {edge[0]} -> {edge[1]} is declared twice"
                )
            seen.add(edge)


def _step(
    doc: Document,
    m: Manifest,
    i: int,
    step: Step,
    registry: JobTypeRegistry,
    graph: Graph | None,
) -> Iterator[Problem]:
    try:
        spec = registry.get(step.type)
    except UnknownJobType as exc:
        yield doc.problem(("steps", i, "type"), "unknown-job-type", str(exc))
        return
    yield from _params(doc, i, step, spec.input_model)
    upstream = graph.ancestors(step.name) if graph else None
    for key, value in (("with", step.with_), ("forEach", step.for_each)):
        yield from _expressions(doc, m, ("steps", i, key), value, step, upstream)
    if step.branch and "next" not in spec.output_model.model_fields:
        yield doc.problem(
            ("steps", i, "branch"),
            "branch-output",
            f"a branch step's job type must output a field 'next' ({step.type} does not)",
        )


def _params(doc: Document, i: int, step: Step, model: type[BaseModel]) -> Iterator[Problem]:
    fields = model.model_fields
    if model.model_config.get("extra") != "allow":
        for key in step.with_:
            if key not in fields:
                yield doc.problem(
                    ("steps", i, "with", key),
                    "params-mismatch",
                    f"{step.type} has no input {key!r} (inputs: {', '.join(fields) or 'none'})",
                )
    dynamic = {k for k, v in step.with_.items() if expressions.has_expression(v)}
    static = {k: v for k, v in step.with_.items() if k not in dynamic and k in fields}
    try:
        model.model_validate(static)
    except ValidationError as exc:
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else ""
            if key in dynamic:
                continue
            yield doc.problem(
                ("steps", i, "with", *error["loc"]),
                "params-mismatch",
                f"{step.type} input {'.'.join(map(str, error['loc']))!r}: {error['msg']}",
            )


def _expressions(
    doc: Document,
    m: Manifest,
    loc: tuple[str | int, ...],
    value: Any,
    step: Step,
    upstream: set[str] | None,
) -> Iterator[Problem]:
    for text in expressions.iter_exprs(value):
        try:
            ref = expressions.parse(text)
        except expressions.ExpressionError as exc:
            yield doc.problem(loc, "bad-expression", str(exc))
            continue
        if ref.kind == "item" and step.for_each is None:
            yield doc.problem(loc, "expression-scope", "${{ item }} outside a forEach step")
        if ref.kind == "param" and ref.name not in m.params:
            yield doc.problem(loc, "expression-scope", f"no run parameter {ref.name!r} declared")
        if ref.kind == "step" and upstream is not None and ref.name not in upstream:
            yield doc.problem(
                loc,
                "expression-scope",
                f"step {ref.name!r} is not upstream of {step.name!r}: its outputs are not ready",
            )


def callback_refusals(
    m: Manifest, hosts: HostPolicy
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(location, why) of each HTTP callback whose URL ``hosts`` refuses (no DNS)."""
    for key, items in (
        ("onSuccess", m.callbacks.on_success),
        ("onFailure", m.callbacks.on_failure),
        ("always", m.callbacks.always),
    ):
        for k, cb in enumerate(items):
            if isinstance(cb, HttpCallback):
                why = hosts.refusal(cb.url)
                if why is not None:
                    yield ("callbacks", key, k, "url"), why


def _job_callbacks(m: Manifest) -> Iterator[tuple[tuple[str | int, ...], JobCallback]]:
    for key, items in (
        ("onSuccess", m.callbacks.on_success),
        ("onFailure", m.callbacks.on_failure),
        ("always", m.callbacks.always),
    ):
        for k, cb in enumerate(items):
            if isinstance(cb, JobCallback):
                yield ("callbacks", key, k, "type"), cb


def _secrets(
    doc: Document,
    value: Any,
    loc: tuple[str | int, ...],
    resolvers: SecretResolvers,
    check: bool,
) -> Iterator[Problem]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _secrets(doc, v, (*loc, str(k)), resolvers, check)
    elif isinstance(value, list):
        for k, v in enumerate(value):
            yield from _secrets(doc, v, (*loc, k), resolvers, check)
    elif isinstance(value, str) and value.startswith(PREFIX):
        scheme = value.removeprefix(PREFIX).partition("/")[0]
        if scheme not in resolvers.schemes:
            known = ", ".join(sorted(resolvers.schemes))
            yield doc.problem(
                loc, "unknown-secret-scheme", f"unknown secret scheme {scheme!r} (known: {known})"
            )
        elif check:
            try:
                resolvers.resolve(value)  # the value is discarded, never printed
            except ConfigError as exc:
                yield doc.problem(loc, "secret-unresolved", str(exc))
