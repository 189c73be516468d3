"""What a DAG run means, decided from the store's rows: pure functions, no I/O.

- ``new_run_rows``: one PENDING job per step (a forEach step gets a row of its own,
  ``jobsys.foreach``, that records its expansion into one job per item).
- ``gate``: when a step's message arrives, whether it runs (with its inputs resolved
  from its predecessors' outputs), is skipped (and why), or must wait.
- ``expand``: a forEach step's items, from the producing step's output.
- ``retry_selection``: the failed steps of a run and everything downstream of them.
- ``summary``: a finished run, as callbacks receive it.

Outcomes of a step: ``success`` (COMPLETED, COMPLETED_WITH_WARNINGS), ``failed``
(FAILED, CANCELLED), ``skipped``, or ``pending``. A forEach step succeeds when every
item does (or it has none), fails when any item fails. A failed step whose
``continueOnFailure`` is set counts as a success for its successors' trigger rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobsys.errors import InputError
from jobsys.jobtypes import JobTypeRegistry, validate_inputs
from jobsys.lifecycle import JOB_TERMINAL, JobState
from jobsys.workflows import expressions
from jobsys.workflows.graph import Graph
from jobsys.workflows.manifest import Manifest, Step, TriggerRule

FOREACH = "jobsys.foreach"
SUCCESS, FAILED, SKIPPED, PENDING = "success", "failed", "skipped", "pending"
_OUTCOME = {
    JobState.COMPLETED.value: SUCCESS,
    JobState.COMPLETED_WITH_WARNINGS.value: SUCCESS,
    JobState.FAILED.value: FAILED,
    JobState.CANCELLED.value: FAILED,
    JobState.SKIPPED.value: SKIPPED,
}
_TERMINAL = {s.value for s in JOB_TERMINAL}


def graph_of(manifest: Manifest) -> Graph:
    """The manifest's DAG."""
    return Graph.build([s.name for s in manifest.steps], manifest.edges())


def run_params(manifest: Manifest, given: Mapping[str, Any], template: str) -> dict[str, Any]:
    """The manifest's ``params`` defaults overlaid with the run's own; unknown ones refused."""
    unknown = sorted(set(given) - set(manifest.params))
    if unknown:
        declared = ", ".join(sorted(manifest.params)) or "none"
        raise InputError(template, unknown[0], f"unknown run parameter (declared: {declared})")
    return {**manifest.params, **given}


def new_run_rows(
    manifest: Manifest,
    registry: JobTypeRegistry,
    params: Mapping[str, Any],
    base: Mapping[str, Any],
    new_id: Any,
    *,
    roots: Sequence[Path] = (),
) -> list[dict[str, Any]]:
    """One PENDING job row per step; steps whose inputs hold no expression are validated now.

    ``base`` holds the columns every row shares (group_id, template_id, priority, times);
    ``new_id()`` makes ids.
    """
    rows: list[dict[str, Any]] = []
    graph = graph_of(manifest)
    for position, step in enumerate(manifest.steps):
        spec = registry.get(step.type)
        values: dict[str, Any]
        if step.for_each is not None:
            job_type, values = FOREACH, {"forEach": step.for_each}
        else:
            job_type, values = spec.name, dict(step.with_)
            if not expressions.has_expression(values):
                try:
                    values = validate_inputs(spec, values, roots=roots).model_dump(mode="json")
                except InputError as exc:
                    where = f"step {step.name} ({spec.name})"
                    raise InputError(where, exc.field, exc.reason) from exc
            elif any(r.kind == "param" for r in expressions.refs(values)):
                # Parameters are known now: resolve them, keep step outputs for later.
                values = _resolve_params(values, params)
        job_id = new_id()
        attempts = spec.retry.max_attempts if step.retries is None else step.retries + 1
        rows.append(
            {
                **base,
                "id": job_id,
                "task_id": job_id,
                "job_type": job_type,
                "job_type_version": spec.version,
                "capability": str(spec.capability),
                "params": values,
                "max_attempts": attempts,
                "step": step.name,
                "position": position,
                "sink": not graph.successors(step.name),
            }
        )
    return rows


def _resolve_params(value: Any, params: Mapping[str, Any]) -> Any:
    """Resolve ``${{ params.x }}`` only, leaving step references for the step's start."""
    if isinstance(value, str):
        if all(r.kind == "param" for r in expressions.refs(value)):
            return expressions.resolve(value, expressions.Scope({}, params))
        return value
    if isinstance(value, Mapping):
        return {k: _resolve_params(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_params(v, params) for v in value]
    return value


# --- outcomes ------------------------------------------------------------------------------


def by_step(rows: Iterable[Any]) -> dict[str, list[Any]]:
    """A run's rows grouped by step (the step's own row first, then its items in order)."""
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(row.step, []).append(row)
    for items in out.values():
        items.sort(key=lambda r: -1 if r.item_index is None else r.item_index)
    return out


def outcome(rows: Sequence[Any]) -> str:
    """success / failed / skipped / pending of one step, from its rows."""
    if not rows:
        return PENDING
    own, items = rows[0], rows[1:]
    if own.status not in _TERMINAL:
        return PENDING
    if own.job_type != FOREACH or _OUTCOME[own.status] != SUCCESS:
        return _OUTCOME[own.status]
    states = [_OUTCOME.get(r.status, PENDING) for r in items]
    if PENDING in states:
        return PENDING
    if FAILED in states:
        return FAILED
    if states and all(s == SKIPPED for s in states):
        return SKIPPED
    return SUCCESS


def outputs_of(rows: Sequence[Any]) -> Any:
    """A step's outputs for expressions: its job's, or ``{"items": [...]}`` for a forEach."""
    own = rows[0]
    if own.job_type != FOREACH:
        return own.outputs or {}
    return {"items": [r.outputs for r in rows[1:]]}


# --- gate ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """Run the step with these inputs."""

    params: dict[str, Any]


@dataclass(frozen=True)
class Skip:
    """Do not run the step: its trigger rule is not met (or a branch did not choose it)."""

    reason: str


@dataclass(frozen=True)
class Fail:
    """The step cannot run: its inputs do not resolve or do not validate."""

    reason: str


@dataclass(frozen=True)
class Wait:
    """A predecessor has not finished yet (a duplicate or early message): look again later."""

    reason: str


Decision = Ready | Skip | Fail | Wait


def _step(manifest: Manifest, name: str) -> Step:
    return next(s for s in manifest.steps if s.name == name)


def _rule_met(step: Step, preds: dict[str, str], manifest: Manifest) -> str | None:
    """None when the trigger rule holds, else the reason it does not."""
    effective = {
        p: SUCCESS if o == FAILED and _step(manifest, p).continue_on_failure else o
        for p, o in preds.items()
    }
    rule = step.trigger_rule
    if rule == TriggerRule.ALL_DONE:
        return None
    if rule == TriggerRule.ONE_SUCCESS:
        if any(o == SUCCESS for o in effective.values()) or not preds:
            return None
        return "no upstream step succeeded (one_success)"
    if rule == TriggerRule.ALL_FAILED:
        if all(o == FAILED for o in preds.values()):
            return None
        return "not every upstream step failed (all_failed)"
    for p, o in effective.items():
        if o != SUCCESS:
            return f"upstream step {p!r} {'failed' if o == FAILED else 'was skipped'}"
    return None


def gate(
    manifest: Manifest,
    run_parameters: Mapping[str, Any],
    rows: Mapping[str, Sequence[Any]],
    step_name: str,
    registry: JobTypeRegistry,
    *,
    roots: Sequence[Path] = (),
) -> Decision:
    """Whether step ``step_name`` runs now, given every step's rows."""
    graph = graph_of(manifest)
    step = _step(manifest, step_name)
    preds = {p: outcome(rows.get(p, ())) for p in graph.predecessors(step_name)}
    waiting = [p for p, o in preds.items() if o == PENDING]
    if waiting:
        return Wait(f"upstream step {waiting[0]!r} has not finished")
    for p, o in preds.items():
        if o == SUCCESS and _step(manifest, p).branch:
            chosen = (rows[p][0].outputs or {}).get("next") or []
            if step_name not in chosen:
                return Skip(f"branch {p!r} chose {', '.join(chosen) or 'nothing'}")
    reason = _rule_met(step, preds, manifest)
    if reason is not None:
        return Skip(reason)
    outputs = {
        a: outputs_of(rows[a])
        for a in graph.ancestors(step_name)
        if a in rows and outcome(rows[a]) == SUCCESS
    }
    scope = expressions.Scope(outputs, run_parameters)
    if step.for_each is not None:
        return _items(step, scope)
    try:
        values = expressions.resolve(rows[step_name][0].params, scope)
    except expressions.ExpressionError as exc:
        return Fail(f"step {step_name!r}: {exc}")
    return _validated(step, values, registry, roots)


def _items(step: Step, scope: expressions.Scope) -> Decision:
    try:
        items = expressions.resolve(step.for_each, scope)
    except expressions.ExpressionError as exc:
        return Fail(f"forEach of step {step.name!r}: {exc}")
    if not isinstance(items, list):
        return Fail(f"forEach of step {step.name!r} must give a list, not {type(items).__name__}")
    return Ready({"items": items})


def _validated(
    step: Step, values: Any, registry: JobTypeRegistry, roots: Sequence[Path]
) -> Decision:
    spec = registry.get(step.type)
    try:
        return Ready(validate_inputs(spec, values, roots=roots).model_dump(mode="json"))
    except InputError as exc:
        return Fail(f"step {step.name!r}: {exc.format_message()}")


def expand(
    manifest: Manifest,
    run_parameters: Mapping[str, Any],
    rows: Mapping[str, Sequence[Any]],
    step_name: str,
    items: Sequence[Any],
) -> list[dict[str, Any]]:
    """Each item's inputs: the step's ``with`` resolved with ``${{ item }}`` and upstream outputs.

    An item whose inputs do not resolve keeps the text of the problem as its inputs'
    ``__error__``; it fails when it starts, saying why, and the other items still run.
    """
    graph = graph_of(manifest)
    step = _step(manifest, step_name)
    outputs = {
        a: outputs_of(rows[a])
        for a in graph.ancestors(step_name)
        if a in rows and outcome(rows[a]) == SUCCESS
    }
    out: list[dict[str, Any]] = []
    for item in items:
        scope = expressions.Scope(outputs, run_parameters, item=item, has_item=True)
        try:
            out.append(expressions.resolve(step.with_, scope))
        except expressions.ExpressionError as exc:
            out.append({"__error__": f"forEach item {item!r}: {exc}"})
    return out


def item_error(params: Mapping[str, Any]) -> str | None:
    """The problem recorded by ``expand`` for an item whose inputs did not resolve."""
    error = params.get("__error__")
    return str(error) if error is not None else None


# --- retry and summary ---------------------------------------------------------------------


@dataclass(frozen=True)
class RetrySelection:
    """What retrying a run re-runs: steps (in order), their jobs to re-open, forEach steps to
    expand again (their own row did not complete) and forEach steps whose failed items re-run."""

    steps: list[str]
    job_ids: list[str]
    reexpand: set[str]
    items_only: set[str]


def retry_selection(manifest: Manifest, rows: Mapping[str, Sequence[Any]]) -> RetrySelection:
    """The failed steps of a finished run and every step downstream of them."""
    graph = graph_of(manifest)
    failed = [n for n in graph.nodes if outcome(rows.get(n, ())) == FAILED]
    chosen: set[str] = set(failed)
    for name in graph.nodes:
        if any(f in graph.ancestors(name) for f in failed):
            chosen.add(name)
    order = [n for n in graph.topological_order() if n in chosen]
    reopen = {JobState.FAILED.value, JobState.CANCELLED.value, JobState.SKIPPED.value}
    job_ids: list[str] = []
    reexpand: set[str] = set()
    items_only: set[str] = set()
    for name in order:
        step_rows = rows.get(name, ())
        if not step_rows:
            continue
        own = step_rows[0]
        if own.job_type == FOREACH and own.status == JobState.COMPLETED.value and name in failed:
            items_only.add(name)
            job_ids += [r.id for r in step_rows[1:] if r.status in reopen]
            continue
        if own.job_type == FOREACH:
            reexpand.add(name)
        job_ids += [r.id for r in step_rows[:1] if r.status in reopen]
    return RetrySelection(order, job_ids, reexpand, items_only)


def summary(group: Any, rows: Sequence[Any]) -> dict[str, Any]:
    """A finished run as callbacks receive it (JSON-ready)."""
    steps = by_step(rows)
    return {
        "run_id": group.id,
        "name": group.name,
        "status": group.status,
        "error": group.error,
        "started_at": group.started_at.isoformat() if group.started_at else None,
        "finished_at": group.finished_at.isoformat() if group.finished_at else None,
        "steps": {name: outcome(r) for name, r in steps.items()},
        "failed_steps": [
            {"step": name, "error": next((x.error for x in r if x.error), None)}
            for name, r in steps.items()
            if outcome(r) == FAILED
        ],
    }


def failure_note(rows: Sequence[Any]) -> str | None:
    """Why a run ended PARTIAL, for its group: the first failed step and what was skipped."""
    steps = by_step(rows)
    failed = [(n, r) for n, r in steps.items() if outcome(r) == FAILED]
    if not failed:
        return None
    name, step_rows = failed[0]
    error = next((x.error for x in step_rows if x.status in ("FAILED", "CANCELLED")), None)
    skipped = [n for n, r in steps.items() if outcome(r) == SKIPPED]
    note = f"step {name!r} failed: {error}" if error else f"step {name!r} failed"
    if skipped:
        note += f"; skipped downstream: {', '.join(skipped)}"
    return note
