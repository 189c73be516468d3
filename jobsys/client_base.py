"""The core of ``Client``: submitting, following and steering jobs, and capabilities.

Submitting validates inputs against the job type's model before anything is
written or sent; then the job rows are inserted (PENDING), the messages are
published to the capability queues, and the rows are marked QUEUED. If the
broker refuses, the rows are removed again: nothing is left half-written.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from pydantic import BaseModel

from jobsys.errors import InputError, JobFailed, JobsysError, WaitTimeout
from jobsys.execution import callbacks, dispatch
from jobsys.execution.sequencing import message_for
from jobsys.jobtypes import JobType, JobTypeRegistry, validate_inputs
from jobsys.lifecycle import JOB_TERMINAL, GroupState, JobState
from jobsys.runtime import Runtime
from jobsys.settings import Settings, load_settings
from jobsys.store import dags, queries, writes
from jobsys.store.models import new_id
from jobsys.store.session import store_errors
from jobsys.workflows.manifest import Manifest

GROUP_MODES = ("parallel", "sequential")
#: the source that owns templates made by ``Client.create_template`` (apply will not overwrite them)
CLIENT_SOURCE = "client"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CapabilityInfo:
    """What ``jobsys capabilities`` shows for one capability."""

    capability: str
    job_types: list[str]
    queued: int
    running: int
    broker_depth: int | None
    workers: list[str] = field(default_factory=list)


class JobHandle:
    """A submitted job: its id, and ways to follow it."""

    def __init__(self, client: ClientBase, job_id: str) -> None:
        self.client, self.id = client, job_id

    def __repr__(self) -> str:
        return f"JobHandle({self.id!r})"

    def status(self) -> JobState:
        """The job's current state."""
        return self.client.status(self.id)

    def wait(self, timeout: float = 60.0) -> JobState:
        """Block until the job is terminal; ``WaitTimeout`` after ``timeout`` seconds."""
        return self.client.wait(self.id, timeout)

    def result(self, timeout: float = 60.0) -> BaseModel:
        """Wait, then return the validated output model; ``JobFailed`` if it did not succeed."""
        return self.client.result(self.id, timeout)

    def runs(self) -> list[Any]:
        """The job's attempts (JobRun rows), oldest first."""
        return self.client.runs(self.id)

    def cancel(self) -> None:
        """Cancel the job (recorded first, then revoked or terminated)."""
        self.client.cancel(self.id)


class ClientBase:
    """Submit, follow and steer jobs."""

    def __init__(self, settings: Settings | None = None, *, runtime: Runtime | None = None):
        self.runtime = runtime or Runtime(settings or load_settings())
        self.settings = self.runtime.settings

    @property
    def registry(self) -> JobTypeRegistry:
        """The job types this client knows."""
        return self.runtime.registry

    def close(self) -> None:
        """Release connections."""
        self.runtime.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- submitting ----------------------------------------------------------------------

    def submit(
        self,
        job_type: str,
        inputs: Mapping[str, Any] | BaseModel | None = None,
        /,
        *,
        priority: int | None = None,
        **kwargs: Any,
    ) -> JobHandle:
        """Validate and enqueue one job: ``client.submit("demo.echo", message="hi")``."""
        data = inputs if inputs is not None else kwargs
        return self.submit_many(job_type, [data], priority=priority)[0]

    def submit_many(
        self,
        job_type: str,
        inputs: Iterable[Mapping[str, Any] | BaseModel],
        *,
        priority: int | None = None,
    ) -> list[JobHandle]:
        """Validate every item first, then insert all rows and publish in one batch."""
        spec = self.registry.get(job_type)
        rows = [
            self._row(spec, validate_inputs(spec, item, roots=self.runtime.path_roots), priority)
            for item in inputs
        ]
        self._enqueue(rows, rows)
        return [JobHandle(self, r["id"]) for r in rows]

    def submit_group(
        self,
        items: Sequence[tuple[str, Mapping[str, Any] | BaseModel]],
        *,
        mode: str = "parallel",
        name: str | None = None,
        priority: int | None = None,
    ) -> str:
        """Enqueue a JobGroup; ``sequential`` runs members one at a time, by position."""
        if mode not in GROUP_MODES:
            raise InputError("group", "mode", f"must be one of {', '.join(GROUP_MODES)}")
        group_id, now = new_id(), _now()
        rows = []
        for position, (job_type, item) in enumerate(items):
            spec = self.registry.get(job_type)
            row = self._row(
                spec, validate_inputs(spec, item, roots=self.runtime.path_roots), priority
            )
            rows.append({**row, "group_id": group_id, "position": position})
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            writes.insert_group(conn, group_id, name, mode, now)
        first = rows[:1] if mode == "sequential" else rows
        self._enqueue(rows, first, group_id=group_id)
        return group_id

    def _row(
        self, spec: JobType[Any, Any], inputs: BaseModel, priority: int | None
    ) -> dict[str, Any]:
        return dispatch.job_row(self.settings, spec, inputs, priority)

    def _enqueue(
        self,
        rows: Sequence[dict[str, Any]],
        to_publish: Sequence[dict[str, Any]],
        group_id: str | None = None,
    ) -> None:
        engine = self.runtime.engine
        with store_errors(self.settings), engine.begin() as conn:
            writes.insert_jobs(conn, rows)
        messages = [
            dispatch.Message(r["id"], r["job_type"], r["capability"], r["priority"], r["task_id"])
            for r in to_publish
        ]
        try:
            dispatch.publish(self.runtime, messages)
        except JobsysError:
            with store_errors(self.settings), engine.begin() as conn:
                writes.delete_unpublished(conn, [r["id"] for r in rows])
                if group_id:
                    writes.set_group_state(conn, group_id, GroupState.CANCELLED, _now())
            raise
        with store_errors(self.settings), engine.begin() as conn:
            writes.mark_queued(conn, [m.job_id for m in messages], _now())
            if group_id:
                writes.set_group_state(conn, group_id, GroupState.QUEUED, _now())

    # --- following ------------------------------------------------------------------------

    def job(self, job_id: str) -> Any:
        """The job's row (all its fields)."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return queries.get_job(conn, job_id)

    def resolve(self, job_id: str) -> str:
        """The full id of a job given its id or a unique prefix of it."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return queries.resolve_job_id(conn, job_id)

    def resolve_group(self, group_id: str) -> str:
        """The full id of a group (a run or a batch) given its id or a unique prefix of it."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return queries.resolve_group_id(conn, group_id)

    def handle(self, job_id: str) -> JobHandle:
        """A handle on an existing job."""
        self.job(job_id)
        return JobHandle(self, job_id)

    def status(self, job_id: str) -> JobState:
        """The job's current state."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return queries.job_status(conn, job_id)

    def jobs(self, **filters: Any) -> list[Any]:
        """Jobs, failed first (see ``queries.list_jobs`` for filters)."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return queries.list_jobs(conn, **filters)

    def runs(self, job_id: str) -> list[Any]:
        """A job's attempts, oldest first."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return queries.runs_of(conn, job_id)

    def group(self, group_id: str) -> tuple[Any, list[Any]]:
        """A group's row and its jobs in position order."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return queries.get_group(conn, group_id), queries.group_jobs(conn, group_id)

    def wait(self, job_id: str, timeout: float = 60.0) -> JobState:
        """Poll the store until the job is terminal."""
        deadline, pause = time.monotonic() + timeout, 0.005
        while True:
            state = self.status(job_id)
            if state in JOB_TERMINAL:
                return state
            if time.monotonic() >= deadline:
                raise WaitTimeout(job_id, timeout, state.value)
            time.sleep(pause)
            pause = min(pause * 1.5, 0.25)

    def result(self, job_id: str, timeout: float = 60.0) -> BaseModel:
        """The validated output of a succeeded job."""
        state = self.wait(job_id, timeout)
        job = self.job(job_id)
        reused = state is JobState.SKIPPED and job.outputs is not None  # a detected duplicate
        if state not in (JobState.COMPLETED, JobState.COMPLETED_WITH_WARNINGS) and not reused:
            raise JobFailed(job_id, state.value, job.error)
        spec = self.registry.get(job.job_type)
        output: BaseModel = spec.output_model.model_validate(job.outputs)
        return output

    # --- steering -------------------------------------------------------------------------

    def cancel(self, job_id: str) -> JobState:
        """Record the cancel, then revoke a queued job or terminate a running one."""
        now = _now()
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            before = writes.cancel_job(conn, job_id, now)
            if before.group_id:
                writes.settle_group(conn, before.group_id, now)
        running = before.status == JobState.RUNNING.value
        try:
            dispatch.revoke(self.runtime, before.task_id or job_id, terminate=running)
        except JobsysError:
            pass  # the store says CANCELLED: a later delivery is dropped before it runs
        return JobState(before.status)

    def retry(self, job_id: str) -> JobHandle:
        """Re-queue a FAILED or CANCELLED job for a fresh set of attempts."""
        job = self.job(job_id)
        spec = self.registry.get(job.job_type)
        task_id, now = new_id(), _now()
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            row = writes.requeue_job(conn, job_id, task_id, spec.retry.max_attempts, now)
            if row.group_id:
                writes.set_group_state(conn, row.group_id, GroupState.QUEUED, now)
        dispatch.publish(
            self.runtime,
            [dispatch.Message(job_id, job.job_type, job.capability, job.priority, task_id)],
        )
        return JobHandle(self, job_id)

    def requeue(self, older_than: float = 300.0, include_queued: bool = False) -> list[str]:
        """Publish again the jobs that should be on a queue but may have no message.

        PENDING jobs older than ``older_than`` seconds were inserted by a client that died
        before publishing; with ``include_queued``, QUEUED ones too (after a broker lost its
        data). A job that still had its message is not run twice: every delivery is checked
        against the store before it runs.
        """
        cutoff = _now() - timedelta(seconds=older_than)
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            rows = queries.unstarted_since(conn, cutoff, include_queued)
        dispatch.publish(self.runtime, [message_for(r) for r in rows])
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            writes.mark_queued(conn, [r.id for r in rows if r.status == "PENDING"], _now())
        return [r.id for r in rows]

    def cancel_group(self, group_id: str) -> list[str]:
        """Cancel every member not yet finished; the group ends CANCELLED.

        A DAG run's ``onFailure`` and ``always`` callbacks are then delivered.
        """
        now = _now()
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            group = queries.get_group(conn, group_id)
            cancelled = writes.set_group_state(conn, group_id, GroupState.CANCELLED, now)
            ids = writes.cancel_pending_in_group(conn, group_id, now)
            running = [j.id for j in queries.group_jobs(conn, group_id) if j.status == "RUNNING"]
            if cancelled and group.mode == "dag":
                manifest = Manifest.model_validate(group.definition)
                due = callbacks.due(manifest, group_id, GroupState.CANCELLED, now)
                dags.insert_deliveries(conn, due)
        for job_id in running:
            self.cancel(job_id)
        if cancelled and group.mode == "dag":
            callbacks.deliver(self.runtime, group_id)
        return ids + running

    def reorder(self, group_id: str, job_ids: Sequence[str]) -> None:
        """Set the order of a sequential group's members not yet dispatched."""
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            writes.reorder_group(conn, group_id, job_ids, _now())

    # --- capabilities ---------------------------------------------------------------------

    def capabilities(self, inspect_timeout: float = 1.0) -> list[CapabilityInfo]:
        """Per capability: job types, queued/running jobs, broker depth, workers serving it."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            counts = queries.queued_by_capability(conn)
        workers = self._workers_by_queue(inspect_timeout)
        out = []
        for cap, specs in self.registry.by_capability().items():
            name = str(cap)
            c = counts.get(name, {})
            out.append(
                CapabilityInfo(
                    capability=name,
                    job_types=[s.name for s in specs],
                    queued=c.get("QUEUED", 0) + c.get("PENDING", 0),
                    running=c.get("RUNNING", 0),
                    broker_depth=self._broker_depth(name),
                    workers=sorted(workers.get(name, [])),
                )
            )
        return out

    def _workers_by_queue(self, timeout: float) -> dict[str, list[str]]:
        from jobsys.celery import broker_errors

        with broker_errors(self.settings):
            replies = self.runtime.app.control.inspect(timeout=timeout).active_queues() or {}
        out: dict[str, list[str]] = {}
        for worker, queues in replies.items():
            for q in queues:
                out.setdefault(q["name"], []).append(worker)
        return out

    def _broker_depth(self, queue: str) -> int | None:
        from jobsys.celery import broker_errors

        with broker_errors(self.settings), self.runtime.app.connection_for_read() as conn:
            channel = conn.channel()
            try:
                return int(channel.queue_declare(queue=queue, passive=True).message_count)
            except Exception:  # the queue does not exist yet: nothing was ever sent to it
                return 0
            finally:
                channel.close()
