"""DAG runs on Celery: each step's signature, a run's canvas, and the tasks jobsys adds to it.

A run's canvas comes from ``jobsys.workflows.compile`` (chains, groups, chords). Every
step signature is immutable and carries its job's id, so results never flow through
Celery: a step reads its predecessors' outputs from the store when it starts
(``prepare``). Three internal tasks complete the canvas:

- ``jobsys.expand``: a forEach step. It reads the producing step's output, inserts one
  job per item and replaces itself with the group of those jobs (Celery's
  ``Task.replace``), so what follows waits for every item (a chord).
- ``jobsys.barrier``: a no-op joining two consecutive parallel parts.
- ``jobsys.join_failed``: the error callback of every step; if a step's task itself fails
  in Celery (not the job: jobs record their failures and return), the failure of the join
  is recorded on the run's group instead of being lost in a ``ChordError``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from jobsys.celery import broker_errors, broker_priority
from jobsys.lifecycle import GroupState, JobState, RunStatus
from jobsys.settings import Settings
from jobsys.store import dags, queries, writes
from jobsys.workflows import runs
from jobsys.workflows.compile import Compiled, first_step, plan, to_canvas
from jobsys.workflows.graph import Graph
from jobsys.workflows.manifest import Manifest

if TYPE_CHECKING:
    from celery import Celery, Task

    from jobsys.runtime import Runtime

log = logging.getLogger(__name__)

EXPAND = "jobsys.expand"
BARRIER = "jobsys.barrier"
JOIN_FAILED = "jobsys.join_failed"
#: seconds before a step whose predecessor has not finished looks again
WAIT = 1.0


def _now() -> datetime:
    return datetime.now(UTC)


# --- signatures and canvas ---------------------------------------------------------------


def _results(settings: Settings) -> dict[str, Any]:
    """Redis joins chords natively (a counter), whatever the tasks store; a database backend
    polls the header's stored results (Celery's ``chord_unlock``, sent to the body's queue)."""
    native = settings.effective_result_backend.split("://", 1)[0] in {"redis", "rediss"}
    return {"ignore_result": native}


def member_signature(app: Celery, settings: Settings, row: Any, timeout: float | None) -> Any:
    """The signature of one step job (or forEach item)."""
    options: dict[str, Any] = {
        "task_id": row.task_id or row.id,
        "queue": row.capability,
        "priority": broker_priority(settings, row.priority),
        **_results(settings),
    }
    if timeout:
        options.update(soft_time_limit=timeout, time_limit=timeout + 30)
    sig = app.signature(row.job_type, args=[row.id], immutable=True, **options)
    sig.link_error(
        app.signature(
            JOIN_FAILED, args=[row.group_id, row.step], queue=row.capability, immutable=True
        )
    )
    return sig


def run_canvas(
    app: Celery,
    settings: Settings,
    manifest: Manifest,
    rows: dict[str, list[Any]],
    steps: Sequence[str] | None = None,
    items_only: dict[str, list[Any]] | None = None,
) -> tuple[Any, Compiled]:
    """The canvas of a run (or of the ``steps`` a retry re-runs) and the plan it came from.

    ``items_only`` maps a forEach step to the items to run again instead of expanding it.
    """
    from celery import group

    graph = runs.graph_of(manifest)
    if steps is not None:
        chosen = set(steps)
        graph = Graph.build(
            [n for n in graph.nodes if n in chosen],
            [(a, b) for a, b in graph.edges if a in chosen and b in chosen],
        )
    compiled = plan(graph)
    by_name = {s.name: s for s in manifest.steps}

    def signature(name: str) -> Any:
        own, timeout = rows[name][0], by_name[name].timeout
        if items_only and name in items_only:
            return group([member_signature(app, settings, r, timeout) for r in items_only[name]])
        if own.job_type == runs.FOREACH:
            return app.signature(
                EXPAND,
                args=[own.id],
                task_id=own.task_id or own.id,
                queue=own.capability,
                priority=broker_priority(settings, own.priority),
                immutable=True,
                **_results(settings),
            )
        return member_signature(app, settings, own, timeout)

    def barrier(part: Any) -> Any:
        queue = rows[first_step(part)][0].capability
        return app.signature(BARRIER, queue=queue, immutable=True, **_results(settings))

    return to_canvas(compiled.plan, signature, barrier), compiled


def publish_canvas(runtime: Runtime, canvas: Any, producer: Any = None) -> None:
    """Send a canvas (its first tasks go on their queues; the rest travel with them).

    ``producer`` (from ``app.producer_or_acquire()``) is reused for a single task's
    signature, which saves a pool round trip per run when many are sent at once.
    """
    from celery.canvas import Signature

    with broker_errors(runtime.settings):
        if producer is not None and type(canvas) is Signature:
            canvas.apply_async(producer=producer)
        else:
            canvas.apply_async()


# --- when a step's message arrives -------------------------------------------------------


def _load(conn: Connection, group_id: str) -> tuple[Any, Manifest, dict[str, list[Any]]]:
    group = queries.get_group(conn, group_id)
    manifest = Manifest.model_validate(group.definition)
    return group, manifest, runs.by_step(dags.step_jobs(conn, group_id))


def prepare(conn: Connection, runtime: Runtime, job: Any, now: datetime) -> runs.Decision:
    """Decide, under the job's lock, whether a step runs now; record a skip or a failure.

    On ``Ready`` the step's inputs are resolved and stored on the job before it starts.
    """
    group, manifest, rows = _load(conn, job.group_id)
    decision = runs.gate(
        manifest, group.params or {}, rows, job.step, runtime.registry, roots=runtime.path_roots
    )
    if isinstance(decision, runs.Ready):
        dags.set_params(conn, job.id, decision.params, now)
    elif isinstance(decision, runs.Skip | runs.Fail):
        _end_unstarted(conn, job, decision, now)
    return decision


def _end_unstarted(conn: Connection, job: Any, decision: runs.Decision, now: datetime) -> None:
    if isinstance(decision, runs.Skip):
        dags.end_unstarted(conn, job, RunStatus.SKIPPED, decision.reason, now, error_type="Skipped")
    elif isinstance(decision, runs.Fail):
        dags.end_unstarted(
            conn, job, RunStatus.FAILED, decision.reason, now, error_type="UnresolvedInputs"
        )


def settle(conn: Connection, group_id: str, now: datetime) -> GroupState | None:
    """Close a DAG run whose jobs are all terminal: record why a PARTIAL one failed and the
    callbacks now due (delivered after the commit, by ``jobsys.execution.callbacks``)."""
    settled = writes.settle_group(conn, group_id, now)
    if settled is None:
        return None
    group, manifest, _ = _load(conn, group_id)
    rows = dags.step_jobs(conn, group_id)
    if settled == GroupState.PARTIAL:
        dags.set_group_error(conn, group_id, group.error or runs.failure_note(rows), now)
    from jobsys.execution.callbacks import due

    dags.insert_deliveries(conn, due(manifest, group_id, settled, now))
    return settled


# --- the internal tasks ------------------------------------------------------------------


def expand_step(runtime: Runtime, parent_id: str) -> list[Any] | float | None:
    """Run a forEach step: its item jobs to publish, a delay to wait, or None (nothing to run)."""
    now = _now()
    ended = False
    with runtime.engine.begin() as conn:
        parent = dags.lock_job(conn, parent_id)
        if parent is None or parent.status in (JobState.SKIPPED.value, JobState.FAILED.value):
            return None
        if parent.status == JobState.CANCELLED.value:
            return None
        if parent.status == JobState.COMPLETED.value:  # redelivered: publish what is unfinished
            items = [r for r in dags.step_jobs(conn, parent.group_id) if r.step == parent.step]
            return [r for r in items if r.item_index is not None and r.status == "QUEUED"]
        group, manifest, rows = _load(conn, parent.group_id)
        decision = runs.gate(
            manifest,
            group.params or {},
            rows,
            parent.step,
            runtime.registry,
            roots=runtime.path_roots,
        )
        if isinstance(decision, runs.Wait):
            return WAIT
        if not isinstance(decision, runs.Ready):
            _end_unstarted(conn, parent, decision, now)
            items, ended = [], True
        else:
            items = _insert_items(conn, runtime, parent, manifest, group, rows, decision, now)
            ended = not items
    if ended:  # settled after the commit, as every step's end is
        from jobsys.execution.callbacks import deliver
        from jobsys.execution.sequencing import settle_dag_after_commit

        if settle_dag_after_commit(runtime, parent.group_id) is not None:
            deliver(runtime, parent.group_id)
    return items


def _insert_items(
    conn: Connection,
    runtime: Runtime,
    parent: Any,
    manifest: Manifest,
    group: Any,
    rows: dict[str, list[Any]],
    decision: runs.Ready,
    now: datetime,
) -> list[Any]:
    from jobsys.store.models import new_id

    values = runs.expand(manifest, group.params or {}, rows, parent.step, decision.params["items"])
    dags.delete_items(conn, parent.group_id, parent.step)
    item_rows = []
    for index, params in enumerate(values):
        job_id = new_id()
        item_rows.append(
            {
                "id": job_id,
                "task_id": job_id,
                "group_id": parent.group_id,
                "template_id": parent.template_id,
                "job_type": next(s.type for s in manifest.steps if s.name == parent.step),
                "job_type_version": parent.job_type_version,
                "capability": parent.capability,
                "params": params,
                "priority": parent.priority,
                "max_attempts": parent.max_attempts,
                "step": parent.step,
                "position": parent.position,
                "item_index": index,
                "sink": parent.sink,
                "created_at": now,
                "updated_at": now,
            }
        )
    dags.insert_items(conn, item_rows)
    dags.end_unstarted(
        conn,
        parent,
        RunStatus.COMPLETED,
        f"expanded into {len(item_rows)} items",
        now,
        error_type="",
        outputs={"items": len(item_rows)},
    )
    writes.mark_queued(conn, [r["id"] for r in item_rows], now)
    return [SimpleNamespace(**r) for r in item_rows]  # rows as member_signature reads them


def join_failed(runtime: Runtime, group_id: str, step: str | None, error: str) -> None:
    """A step's task failed inside Celery: record it on the run and fail what waited on it."""
    now = _now()
    note = f"the task of step {step!r} failed in the worker ({error}); its join did not run"
    with runtime.engine.begin() as conn:
        dags.set_group_error(conn, group_id, note, now)
    log.error("run %s: %s", group_id, note)


def bind_internal_tasks(app: Celery, runtime: Runtime) -> None:
    """Register ``jobsys.expand``, ``jobsys.barrier`` and ``jobsys.join_failed`` on ``app``."""
    from celery import chord, group

    settings = runtime.settings

    @app.task(name=EXPAND, bind=True, shared=False, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def expand(self: Task, parent_id: str) -> str:
        outcome = expand_step(runtime, parent_id)
        if isinstance(outcome, float):
            raise self.retry(countdown=outcome, max_retries=None)
        if not outcome:
            return "nothing to expand"
        with runtime.engine.connect() as conn:
            manifest = _load(conn, outcome[0].group_id)[1]
        timeout = next(s.timeout for s in manifest.steps if s.name == outcome[0].step)
        sigs = [member_signature(app, settings, r, timeout) for r in outcome]
        # A chord whose body is a barrier on the items' queue: what follows the forEach step
        # waits for every item (replacing with a bare group would join on Celery's own
        # accumulate task, on a queue no jobsys worker consumes).
        join = app.signature(
            BARRIER, queue=outcome[0].capability, immutable=True, **_results(settings)
        )
        raise self.replace(chord(group(sigs), join))

    @app.task(name=BARRIER, shared=False, acks_late=True)  # type: ignore[untyped-decorator]
    def barrier() -> str:
        return "joined"

    @app.task(name=JOIN_FAILED, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def on_error(self: Task, group_id: str, step: str | None = None, *args: Any) -> str:
        error = next((repr(a) for a in args if isinstance(a, BaseException)), "see the worker log")
        join_failed(runtime, group_id, step, error)
        return "recorded"
