"""``run_attempt``: one attempt of one job, as a short sequence of steps.

start (store) → context → invariants before → the job type's function → output
check → invariants after → publish staged outputs → JobRun + job state (store,
one transaction) → group bookkeeping. The Celery task around it is a shell.
"""

from __future__ import annotations

import logging
import traceback
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError

from jobsys import paths
from jobsys.context import JobContext
from jobsys.errors import FatalJobError
from jobsys.execution import callbacks, dag, dedup, invariants, staging
from jobsys.execution.metrics import StoreMetrics
from jobsys.execution.progress import Heartbeats, StoreProgress
from jobsys.execution.retry import Retry, classify
from jobsys.execution.sequencing import (
    AfterTerminal,
    after_terminal,
    dispatch_next,
    on_start,
    settle_dag_after_commit,
)
from jobsys.jobtypes import JobType
from jobsys.lifecycle import JobState, RunStatus
from jobsys.runtime import Runtime
from jobsys.secrets import SecretResolvers
from jobsys.store import dags, writes
from jobsys.workflows import runs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    """Nothing more for Celery to do with this message."""

    detail: str


@dataclass(frozen=True)
class Later:
    """Send the message again after ``delay`` seconds (a retry, or a deferred duplicate)."""

    delay: float
    detail: str


@dataclass
class _Attempt:
    output: BaseModel | None = None
    exc: BaseException | None = None
    tb: str | None = None
    duplicate: dedup.Duplicate | None = None


#: one heartbeat thread per runtime (per worker process), started on first use
_heartbeats: weakref.WeakKeyDictionary[Runtime, Heartbeats] = weakref.WeakKeyDictionary()


def _heartbeats_for(runtime: Runtime) -> Heartbeats:
    beats = _heartbeats.get(runtime)
    if beats is None or beats.engine is not runtime.engine:  # a new engine after a fork
        beats = Heartbeats(runtime.engine, runtime.settings.heartbeat_interval)
        _heartbeats[runtime] = beats
    return beats


def run_attempt(
    runtime: Runtime, spec: JobType[Any, Any], job_id: str, node: str | None = None
) -> Done | Later:
    """Run the next attempt of ``job_id`` if the store says it should run.

    ``node`` is the Celery worker's node name; the attempt records ``node:pid``.
    """
    settings, engine = runtime.settings, runtime.engine
    worker_id = runtime.worker_id(node)
    stale_after = timedelta(seconds=settings.heartbeat_interval * 3)
    with runtime.autocommit.connect() as conn:  # the common case: one statement
        fast = writes.begin_attempt(conn, job_id, worker_id, _now())
    # Otherwise a DAG step, or a job redelivered, cancelled, finished or unknown: under a lock.
    begun = fast or _start_locked(runtime, job_id, worker_id, stale_after)
    if isinstance(begun, writes.Started) and begun.group_id:
        with runtime.autocommit.connect() as conn:  # one conditional UPDATE
            on_start(conn, begun, _now())
    if isinstance(begun, Done | Later):
        return begun
    if isinstance(begun, writes.Drop):
        log.info("dropping delivery: %s", begun.reason)
        return Done(begun.reason)
    if isinstance(begun, writes.Defer):
        return Later(stale_after.total_seconds(), begun.reason)

    progress, metrics = StoreProgress(engine, job_id), StoreMetrics(engine, job_id)
    # Where outputs go (per job, or per asset); a duplicate of an earlier job is SKIPPED.
    plan = dedup.plan(runtime, spec, job_id, begun.params)
    ctx = JobContext(
        job_id=job_id,
        job_type=spec.name,
        attempt=begun.attempt,
        staging_path=staging.staging_path(runtime.staging_root, job_id),
        log_path=runtime.logs_root / f"{job_id}.log",
        progress=progress,
        metrics=metrics,
        output_path=plan.location,
        home=runtime.settings.resolved_home,
        secrets=SecretResolvers(),
        path_roots=runtime.path_roots,
    )
    beats = _heartbeats_for(runtime)
    beats.add(job_id)
    try:
        dup = plan.duplicate
        if plan.refused is not None:  # the outputs would land outside the outputs folder
            attempt = _Attempt(exc=plan.refused)
        else:
            attempt = _Attempt(duplicate=dup) if dup else _execute(spec, begun.params, ctx)
    finally:
        beats.discard(job_id)
        progress.flush()
        metrics.flush()
        ctx.close()
    return _conclude(runtime, spec, begun, ctx, attempt, worker_id, plan)


_UNSTARTED = (JobState.PENDING.value, JobState.QUEUED.value)


def _start_locked(
    runtime: Runtime, job_id: str, worker_id: str, stale_after: timedelta
) -> writes.Started | writes.Drop | writes.Defer | Done | Later:
    """Start an attempt under the job's lock; a DAG step first passes its run's gate.

    A DAG step that ends here (skipped, inputs unresolvable) or that was redelivered after
    its end settles its run after the commit, as every step does.
    """
    with runtime.engine.begin() as conn:
        job = dags.lock_job(conn, job_id)
        if job is not None and job.step and job.item_index is None and job.status in _UNSTARTED:
            decision = dag.prepare(conn, runtime, job, _now())
            if isinstance(decision, runs.Wait):
                return Later(dag.WAIT, decision.reason)
            if not isinstance(decision, runs.Ready):
                outcome = Done(decision.reason)
                job_step = job
            else:
                return writes.start_attempt(conn, job_id, worker_id, _now(), stale_after)
        else:
            begun = writes.start_attempt(conn, job_id, worker_id, _now(), stale_after)
            if not (isinstance(begun, writes.Drop) and job is not None and job.step is not None):
                return begun
            outcome, job_step = Done(begun.reason), job
    if settle_dag_after_commit(runtime, job_step.group_id) is not None:
        callbacks.deliver(runtime, job_step.group_id)
    return outcome


def _execute(spec: JobType[Any, Any], params: dict[str, Any], ctx: JobContext) -> _Attempt:
    staging.clear(ctx.staging_path)
    try:
        if runs.item_error(params):  # a forEach item whose inputs did not resolve
            raise FatalJobError(runs.item_error(params) or "")
        try:
            # Path inputs are confined again here: a symlink can be swapped after submit.
            inputs = spec.input_model.model_validate(params, context=paths.context(ctx.path_roots))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(inputs)"
            raise FatalJobError(
                f"inputs no longer match {spec.input_model.__name__}: {where}: {first['msg']}"
            ) from exc
        snapshots = invariants.before(spec, inputs, ctx)
        output = spec.fn(inputs, ctx)
        if not isinstance(output, spec.output_model):
            try:
                output = spec.output_model.model_validate(output)
            except ValidationError as exc:
                raise FatalJobError(
                    f"{spec.name} returned {type(output).__name__}, "
                    f"not a valid {spec.output_model.__name__}: {exc}"
                ) from exc
        invariants.after(spec, inputs, output, ctx, snapshots)
        return _Attempt(output=output)
    except Exception as exc:  # every failure of the job is recorded, then classified
        return _Attempt(exc=exc, tb=traceback.format_exc())


def _conclude(
    runtime: Runtime,
    spec: JobType[Any, Any],
    begun: writes.Started,
    ctx: JobContext,
    attempt: _Attempt,
    worker_id: str,
    plan: dedup.Plan,
) -> Done | Later:
    job_values: dict[str, Any] = {}
    run: dict[str, Any]
    retry_delay: float | None = None
    log_path = str(ctx.log_path) if ctx.log_path.exists() else None
    if attempt.duplicate is not None:
        run, job_values = dedup.skipped_run(attempt.duplicate, plan)
    elif attempt.exc is None and attempt.output is not None:
        published = staging.publish(ctx.staging_path, plan.location)
        status = RunStatus.COMPLETED_WITH_WARNINGS if ctx.warnings else RunStatus.COMPLETED
        # no secret value in the store: a job may quote one in its outputs
        outputs = ctx.redact_data(attempt.output.model_dump(mode="json"))
        run = {
            "status": status.value,
            "exit_code": 0,
            "outputs": outputs,
            "artifacts": {"files": published.artifacts if published else [], **plan.recorded},
            "error": "; ".join(ctx.warnings) or None,
        }
        job_values = {
            "outputs": outputs,
            "output_path": published.path if published else None,
            "output_size_bytes": published.size_bytes if published else None,
            "error": run["error"],
            "error_type": None,
        }
    else:
        exc = attempt.exc or FatalJobError("no output")
        decision = classify(exc, spec, begun.attempt, begun.max_attempts)
        staging.clear(ctx.staging_path)
        message = ctx.redact(str(exc) or type(exc).__name__)  # no secret value in the store
        run = {
            "status": RunStatus.FAILED.value,
            "exit_code": 1,
            "error": message,
            "error_type": type(exc).__name__,
            "traceback": ctx.redact(attempt.tb) if attempt.tb else None,
            "artifacts": {},
        }
        job_values = {"error": message, "error_type": type(exc).__name__}
        if isinstance(decision, Retry):
            retry_delay = decision.delay
        else:
            log.info("job %s failed: %s (%s)", begun.job_id, message, decision.reason)
    run["worker_id"] = worker_id
    run["log_path"] = log_path
    now = _now()
    aftermath = AfterTerminal()
    retry = retry_delay is not None
    # A lone job or a DAG step on PostgreSQL: one atomic statement, no transaction round
    # trips; a DAG run is settled after the commit. Batches keep the locked path (a
    # sequential group picks its next member under the group's lock).
    one_statement = runtime.engine.dialect.name == "postgresql" and (
        begun.group_id is None or begun.step is not None
    )
    try:
        if one_statement:
            with runtime.autocommit.connect() as conn:
                ours = writes.record_run(conn, begun, run, job_values, retry, now)
            # A step with a successor cannot end its run: the successor has not ended yet.
            if ours and not retry and begun.group_id and begun.sink:
                aftermath = AfterTerminal(settled=settle_dag_after_commit(runtime, begun.group_id))
        else:
            with runtime.engine.begin() as conn:
                ours = writes.record_run(conn, begun, run, job_values, retry, now)
                if ours and not retry:
                    aftermath = after_terminal(conn, begun, now)
    except IntegrityError:
        log.warning("attempt %d of job %s was already recorded", begun.attempt, begun.job_id)
        return Done("attempt already recorded")
    if not ours:
        return Done("job changed while running (cancelled)")
    if aftermath.next_job is not None:
        dispatch_next(runtime, aftermath.next_job)
    if aftermath.settled is not None and begun.group_id:
        callbacks.deliver(runtime, begun.group_id)
    if retry_delay is not None:
        return Later(retry_delay, f"retry after {retry_delay:.2f}s")
    return Done(run["status"])


def _now() -> datetime:
    return datetime.now(UTC)
