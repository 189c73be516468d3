"""``Client``: the one run path. The CLI, the API and the jobs view all call it.

Submitting validates inputs against the job type's model before anything is
written or sent; then the job rows are inserted (PENDING), the messages are
published to the capability queues, and the rows are marked QUEUED. If the
broker refuses, the rows are removed again: nothing is left half-written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from jobsys.errors import (
    InputError,
    InvalidTransition,
    JobFailed,
    JobsysError,
    NotFound,
    WaitTimeout,
)
from jobsys.execution import callbacks, dag, dispatch
from jobsys.execution.sequencing import message_for
from jobsys.jobtypes import JobType, JobTypeRegistry, validate_inputs
from jobsys.lifecycle import (
    GROUP_TERMINAL,
    JOB_TERMINAL,
    GroupState,
    JobState,
    RunStatus,
    ScheduleState,
    TemplateState,
)
from jobsys.runtime import Runtime
from jobsys.scheduling import cron as cron_mod
from jobsys.secrets import SecretResolver
from jobsys.settings import Settings, load_settings
from jobsys.store import dags, queries, schedules, templates, writes
from jobsys.store.models import new_id
from jobsys.store.session import store_errors
from jobsys.workflows import runs
from jobsys.workflows.apply import ApplyReport, Change, Source, apply_changes, plan
from jobsys.workflows.loader import Document, load_paths, load_text
from jobsys.workflows.manifest import Manifest, Metadata

if TYPE_CHECKING:  # dulwich loads only when a sync runs
    from jobsys.workflows.gitsync import GitConfig, SyncResult

GROUP_MODES = ("parallel", "sequential")
#: the source that owns templates made by ``Client.create_template`` (apply will not overwrite them)
CLIENT_SOURCE = "client"
#: the error type of a job a schedule's firing skipped because the previous run had not ended
OVERLAP_SKIP = "ScheduleOverlap"
P = TypeVar("P", bound=Enum)
__all__ = ["CapabilityInfo", "Client", "Dag", "Fired", "JobHandle", "validate_inputs"]


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

    def __init__(self, client: Client, job_id: str) -> None:
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


class Client:
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

    def __enter__(self) -> Client:
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
        rows = [self._row(spec, validate_inputs(spec, item), priority) for item in inputs]
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
            row = self._row(spec, validate_inputs(spec, item), priority)
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

    # --- templates ------------------------------------------------------------------------

    def apply(
        self,
        paths: Sequence[str | Path] = (),
        *,
        text: str | None = None,
        source: Source | None = None,
        force: bool = False,
        prune: bool = False,
        dry_run: bool = False,
    ) -> ApplyReport:
        """Store the manifests of ``paths`` (files, directories of ``*.job.yaml``) or ``text``.

        Each path is its own source unless ``source`` is given; each document is
        written in its own transaction, so a bad one is reported and the others apply.
        """
        changes: list[Change] = []
        for src, docs in self._sources(paths, text, source):
            changes += self._apply_docs(src, docs, force, prune, dry_run)
        return ApplyReport(tuple(changes), dry_run=dry_run)

    def sync_git(
        self,
        config: GitConfig,
        *,
        force: bool = False,
        prune: bool = False,
        secrets: SecretResolver | None = None,
    ) -> SyncResult:
        """Fetch the repository and apply its manifests if the commit changed (or ``force``).

        ``force`` also takes over templates other sources own. Provenance records
        repo, ref, commit and the path inside the repository.
        """
        from jobsys.workflows import gitsync
        from jobsys.workflows.gitsync import SyncResult

        checkout = gitsync.fetch(config, secrets)
        if checkout.already_synced and not force:
            return SyncResult(checkout.commit, True, ApplyReport(()))
        changes = self._apply_docs(checkout.source, checkout.docs, force, prune, False)
        gitsync.mark_synced(config, checkout.commit)
        return SyncResult(checkout.commit, False, ApplyReport(tuple(changes)))

    def _apply_docs(
        self, source: Source, docs: list[Document], force: bool, prune: bool, dry_run: bool
    ) -> tuple[Change, ...]:
        planned = self._plan(source, docs, force=force, prune=prune)
        if dry_run:
            return tuple(planned)
        with store_errors(self.settings):
            return apply_changes(self.runtime.engine, planned).changes

    def diff(
        self,
        paths: Sequence[str | Path] = (),
        *,
        text: str | None = None,
        source: Source | None = None,
        force: bool = False,
        prune: bool = False,
    ) -> list[Change]:
        """What ``apply`` would do; each ``Change.diff`` is a unified diff of the definition."""
        return [
            change
            for src, docs in self._sources(paths, text, source)
            for change in self._plan(src, docs, force=force, prune=prune)
        ]

    def _sources(
        self, paths: Sequence[str | Path], text: str | None, source: Source | None
    ) -> list[tuple[Source, list[Document]]]:
        if isinstance(paths, (str, Path)):
            paths = [paths]
        if not paths and text is None:
            raise InputError("apply", "paths", "give manifest files, directories or text")
        out: list[tuple[Source, list[Document]]] = []
        if source is not None:
            docs = load_paths(paths) + (load_text(text, "<stdin>") if text is not None else [])
            return [(source, docs)]
        out = [(Source.for_path(p), load_paths([p])) for p in paths]
        if text is not None:
            out.append((Source.stdin(), load_text(text, "<stdin>")))
        return out

    def _plan(
        self, source: Source, docs: list[Document], *, force: bool, prune: bool
    ) -> list[Change]:
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            existing = templates.list_templates(conn, include_deleted=True)
        return plan(docs, existing, source, force=force, prune=prune, registry=self.registry)

    def templates(self, include_deleted: bool = False) -> list[Any]:
        """Stored templates by name; archived (soft-deleted) ones only with ``include_deleted``."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return templates.list_templates(conn, include_deleted=include_deleted)

    def template(self, name_or_id: str) -> Any:
        """One template's row by name or id (archived ones too), or ``NotFound``."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return templates.get_template(conn, name_or_id)

    def create_template(
        self,
        name: str,
        job_type: str,
        default_params: Mapping[str, Any] | None = None,
        *,
        description: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> Any:
        """Store a single-job-type template (no manifest); its defaults must fit the job type."""
        try:
            Metadata(name=name, labels=dict(labels or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError("template", where, first["msg"]) from exc
        spec = self.registry.get(job_type)
        params = validate_inputs(spec, default_params or {}).model_dump(mode="json")
        now = _now()
        values = {
            "name": name,
            "job_type": spec.name,
            "default_params": params,
            "definition": None,
            "description": description,
            "labels": dict(labels or {}),
            "annotations": {},
            "source_id": CLIENT_SOURCE,
            "content_hash": None,
            "provenance": {
                "source_id": CLIENT_SOURCE,
                "kind": "api",
                "applied_at": now.isoformat(),
            },
        }
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            try:
                existing = templates.get_template(conn, name)
            except NotFound:
                template_id = templates.insert_template(conn, values, now)
                return templates.get_template(conn, template_id)
        state = "archived " if existing.deleted_at is not None else ""
        raise InputError("template", "name", f"a {state}template named {name!r} already exists")

    def archive_template(self, name: str) -> Any:
        """Archive (soft-delete) a template: it stays readable but is not for new jobs."""
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            row = templates.get_template(conn, name)
            return templates.soft_delete(conn, row.id, _now())

    # --- DAG runs -------------------------------------------------------------------------

    def run_template(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        priority: int | None = None,
        schedule_id: str | None = None,
    ) -> str:
        """Run a stored template: a JobGroup with one job per step, sent as a Celery canvas.

        ``params`` overlay the manifest's ``params`` (for a single-job-type template, its
        default inputs). ``schedule_id`` (set when a schedule fires) is recorded on the
        run and on its jobs. Returns the run's group id.
        """
        template = self.template(name)
        manifest, run_params = self._prepare_run(template, params)
        return self._start_run(
            manifest, run_params, template.id, template.name, priority, schedule_id=schedule_id
        )

    def _prepare_run(
        self, template: Any, params: Mapping[str, Any] | None
    ) -> tuple[Manifest, dict[str, Any]]:
        """The manifest and run parameters of a run of ``template``; archived ones refused."""
        if template.deleted_at is not None or template.status == TemplateState.ARCHIVED.value:
            raise InvalidTransition(
                "template", TemplateState.ARCHIVED.value, "run", key=template.name
            )
        given = dict(params or {})
        if template.definition is None:
            return _single_step(template, given), {}
        manifest = Manifest.model_validate(template.definition)
        return manifest, runs.run_params(manifest, given, template.name)

    def _start_run(
        self,
        manifest: Manifest,
        params: dict[str, Any],
        template_id: str | None,
        name: str,
        priority: int | None,
        *,
        schedule_id: str | None = None,
        scheduled_for: datetime | None = None,
        skip_reason: str | None = None,
    ) -> str:
        group_id, now = new_id(), _now()
        base = {
            "group_id": group_id,
            "template_id": template_id,
            "schedule_id": schedule_id,
            "priority": self.settings.default_priority if priority is None else priority,
            "created_at": now,
            "updated_at": now,
        }
        rows = runs.new_run_rows(manifest, self.registry, params, base, new_id)
        roots = set(runs.graph_of(manifest).roots())
        definition = manifest.model_dump(mode="json", by_alias=True, exclude_none=True)
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            dags.insert_run(
                conn,
                group_id,
                name=name,
                template_id=template_id,
                params=params,
                definition=definition,
                rows=rows,
                now=now,
                schedule_id=schedule_id,
                scheduled_for=scheduled_for,
            )
            if skip_reason is not None:
                _skip_run(conn, group_id, skip_reason, now)
                return group_id
            writes.mark_queued(conn, [r["id"] for r in rows if r["step"] in roots], now)
            writes.set_group_state(conn, group_id, GroupState.QUEUED, now)
            step_rows = runs.by_step(dags.step_jobs(conn, group_id))
        canvas, _ = dag.run_canvas(self.runtime.app, self.settings, manifest, step_rows)
        try:
            dag.publish_canvas(self.runtime, canvas)
        except JobsysError:
            with store_errors(self.settings), self.runtime.engine.begin() as conn:
                dags.delete_run(conn, group_id)
            raise
        return group_id

    def dag(self, template: str) -> Dag:
        """The DAG of a template (by name or id), or of the run a job id belongs to."""
        try:
            row = self.template(template)
            manifest = (
                _single_step(row, {})
                if row.definition is None
                else Manifest.model_validate(row.definition)
            )
        except NotFound:
            job = self.job(self.resolve(template))
            definition = self.group(job.group_id)[0].definition if job.group_id else None
            if definition is None:  # a job on its own, or in a batch: no DAG
                raise NotFound("template or DAG run of job", template) from None
            manifest = Manifest.model_validate(definition)
        return Dag.of(manifest)

    def run_tasks(self, group_id: str) -> list[Any]:
        """A run's jobs: each step's job (a forEach step's own row, then its items)."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            queries.get_group(conn, group_id)
            return dags.step_jobs(conn, group_id)

    def wait_group(self, group_id: str, timeout: float = 60.0) -> GroupState:
        """Poll the store until the group (a run or a batch) has ended."""
        deadline, pause = time.monotonic() + timeout, 0.01
        while True:
            state = GroupState(self.group(group_id)[0].status)
            if state in GROUP_TERMINAL:
                return state
            if time.monotonic() >= deadline:
                raise WaitTimeout(group_id, timeout, state.value)
            time.sleep(pause)
            pause = min(pause * 1.5, 0.5)

    def retry_group(self, group_id: str) -> list[str]:
        """Re-run a finished run's failed steps and what depends on them; others keep outputs.

        A forEach step whose expansion succeeded re-runs only its failed items. Returns
        the re-opened job ids.
        """
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            group = queries.get_group(conn, group_id)
            if group.mode != "dag":
                raise InputError(
                    "run", "group_id", f"{group_id} is a {group.mode} group, not a run"
                )
            manifest = Manifest.model_validate(group.definition)
            selection = runs.retry_selection(manifest, runs.by_step(dags.step_jobs(conn, group_id)))
        if not selection.job_ids:
            raise InvalidTransition("run", group.status, "retried (nothing failed)", key=group_id)
        types = {s.name: s.type for s in manifest.steps}
        now = _now()
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            dags.reopen_group(conn, group_id, now)
            jobs_by_id = {r.id: r for r in dags.step_jobs(conn, group_id)}
            extra = {
                j: self.registry.get(types[jobs_by_id[j].step]).retry.max_attempts
                for j in selection.job_ids
            }
            task_ids = {j: new_id() for j in selection.job_ids}
            for step in selection.reexpand:
                dags.delete_items(conn, group_id, step)
            dags.reset_for_retry(conn, selection.job_ids, task_ids, extra, now)
            rows = runs.by_step(dags.step_jobs(conn, group_id))
        reopened = set(selection.job_ids)
        items_only = {s: [r for r in rows[s][1:] if r.id in reopened] for s in selection.items_only}
        canvas, _ = dag.run_canvas(
            self.runtime.app, self.settings, manifest, rows, selection.steps, items_only
        )
        dag.publish_canvas(self.runtime, canvas)
        return selection.job_ids

    def callbacks(self, group_id: str) -> list[Any]:
        """A run's callback deliveries (status, attempts, HTTP status, error)."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            queries.get_group(conn, group_id)
            return dags.deliveries_of(conn, group_id)

    def retry_callbacks(self, group_id: str) -> int:
        """Deliver a run's failed callbacks again; return how many got through."""
        from jobsys.execution.callbacks import FAILED, deliver

        with store_errors(self.settings):
            return deliver(self.runtime, group_id, (FAILED,))

    # --- schedules --------------------------------------------------------------------------
    # A schedule fires a template through ``run_template`` (see ``jobsys.scheduling``).

    def create_schedule(
        self,
        name: str,
        template: str,
        *,
        cron: str | None = None,
        interval_seconds: int | None = None,
        timezone: str = "UTC",
        params: Mapping[str, Any] | None = None,
        overlap: str = "allow",
        misfire: str = "skip",
        enabled: bool = True,
    ) -> Any:
        """A schedule firing ``template`` on ``cron`` (read in ``timezone``) or every
        ``interval_seconds``; ``params`` overlay the template's defaults at each firing.

        Everything is checked first (cron, timezone, policies, the template is not archived,
        the parameters fit it); ``InputError`` names what is wrong. Returns the row.
        """
        timing = cron_mod.timing(cron, interval_seconds, timezone, subject=f"schedule {name}")
        overlap_policy = _policy(cron_mod.OverlapPolicy, overlap, "overlap")
        misfire_policy = _policy(cron_mod.MisfirePolicy, misfire, "misfire")
        if not name or len(name) > 200:
            raise InputError("schedule", "name", "must be 1 to 200 characters")
        row = self.template(template)
        self._check_params(row, params)
        now = _now()
        values = {
            "name": name,
            "template_id": row.id,
            "cron_expression": timing.cron,
            "interval_seconds": timing.interval_seconds,
            "timezone": timing.timezone,
            "param_overrides": dict(params or {}),
            "overlap_policy": overlap_policy.value,
            "misfire_policy": misfire_policy.value,
            "next_trigger_at": cron_mod.first_after(timing, now) if enabled else None,
        }
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            schedule_id = schedules.insert_schedule(conn, values, enabled=enabled, now=now)
            return schedules.get_schedule(conn, schedule_id)

    def update_schedule(
        self,
        name_or_id: str,
        *,
        cron: str | None = None,
        interval_seconds: int | None = None,
        timezone: str | None = None,
        params: Mapping[str, Any] | None = None,
        overlap: str | None = None,
        misfire: str | None = None,
    ) -> Any:
        """Change what is given: the timing (``cron`` or ``interval_seconds`` replaces the
        other; an ENABLED schedule then counts from now), the timezone, the parameters
        (replaced, not merged) or a policy. Returns the row."""
        row = self.schedule(name_or_id)
        values: dict[str, Any] = {}
        if cron is not None or interval_seconds is not None or timezone is not None:
            if cron is None and interval_seconds is None:
                cron, interval_seconds = row.cron_expression, row.interval_seconds
            timing = cron_mod.timing(
                cron, interval_seconds, timezone or row.timezone, subject=f"schedule {row.name}"
            )
            values |= {
                "cron_expression": timing.cron,
                "interval_seconds": timing.interval_seconds,
                "timezone": timing.timezone,
            }
            if row.status == ScheduleState.ENABLED.value:
                values["next_trigger_at"] = cron_mod.first_after(timing, _now())
        if params is not None:
            self._check_params(self.template(row.template_id), params)
            values["param_overrides"] = dict(params)
        if overlap is not None:
            values["overlap_policy"] = _policy(cron_mod.OverlapPolicy, overlap, "overlap").value
        if misfire is not None:
            values["misfire_policy"] = _policy(cron_mod.MisfirePolicy, misfire, "misfire").value
        if not values:
            return row
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            schedules.update_schedule(conn, row.id, values, _now())
            return schedules.get_schedule(conn, row.id)

    def _check_params(self, template: Any, params: Mapping[str, Any] | None) -> None:
        """Refuse parameters a run of ``template`` would refuse (and archived templates)."""
        manifest, run_params = self._prepare_run(template, params)
        base = {"group_id": None, "template_id": template.id}
        runs.new_run_rows(manifest, self.registry, run_params, base, new_id)

    def schedules(self, include_deleted: bool = False) -> list[Any]:
        """Schedules by name, each with ``template_name``; deleted ones only if asked."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return schedules.list_schedules(conn, include_deleted=include_deleted)

    def schedule(self, name_or_id: str) -> Any:
        """One schedule's row (with ``template_name``) by name or id, or ``NotFound``."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return schedules.get_schedule(conn, name_or_id)

    def enable_schedule(self, name_or_id: str) -> Any:
        """ENABLED: it fires from its next instant after now (missed ones are not caught up)."""
        row = self.schedule(name_or_id)
        if row.status == ScheduleState.ENABLED.value:
            return row
        now = _now()
        next_at = cron_mod.first_after(_timing(row), now)
        return self._set_schedule_state(row, ScheduleState.ENABLED, now, next_at)

    def disable_schedule(self, name_or_id: str) -> Any:
        """DISABLED: it fires no more until enabled again."""
        row = self.schedule(name_or_id)
        if row.status == ScheduleState.DISABLED.value:
            return row
        return self._set_schedule_state(row, ScheduleState.DISABLED, _now())

    def delete_schedule(self, name_or_id: str) -> Any:
        """DELETED: kept for the runs that name it, never fires again; its name is free."""
        row = self.schedule(name_or_id)
        return self._set_schedule_state(row, ScheduleState.DELETED, _now())

    def _set_schedule_state(
        self, row: Any, to: ScheduleState, now: datetime, next_at: datetime | None = None
    ) -> Any:
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            schedules.set_state(conn, row.id, to, now, next_trigger_at=next_at)
            return schedules.get_schedule(conn, row.id, include_deleted=True)

    def run_schedule_now(self, name_or_id: str) -> str:
        """Fire a schedule once now, whatever its state and overlap policy; its timing is
        untouched. Returns the run's group id."""
        row = self.schedule(name_or_id)
        group_id = self.run_template(row.template_id, row.param_overrides, schedule_id=row.id)
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            schedules.touch_triggered(conn, row.id, _now())
        return group_id

    def previous_run_open(self, schedule_id: str) -> str | None:
        """The id of the schedule's latest run if it has not ended, else None."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            row = schedules.open_run(conn, schedule_id)
        return None if row is None else str(row.id)

    def fire_schedules(self, firings: Sequence[tuple[Any, datetime]]) -> list[Fired]:
        """Many claimed firings at once (what beat does each tick): their runs are written in
        one transaction, then their canvases are published one after the other.

        A firing whose overlap policy is ``skip`` goes through ``fire_schedule``. A firing
        that cannot start (its template archived meanwhile, its parameters no longer fit)
        is reported with its error; the others still fire. If the broker refuses, the runs
        not yet published are removed again and ``BrokerUnavailable`` is raised.
        """
        out: list[Fired] = []
        prepared: dict[str, tuple[Any, Manifest, dict[str, Any], dict[str, Any], set[str]]] = {}
        runs_: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        roots: list[str] = []
        batch: list[tuple[Any, datetime, str, Manifest]] = []
        now = _now()
        for schedule, instant in firings:
            try:
                if schedule.overlap_policy == cron_mod.OverlapPolicy.SKIP.value:
                    out.append(Fired(schedule.name, instant, self.fire_schedule(schedule, instant)))
                    continue
                key = f"{schedule.template_id} {_canonical(schedule.param_overrides)}"
                if key not in prepared:
                    template = self.template(schedule.template_id)
                    manifest, run_params = self._prepare_run(template, schedule.param_overrides)
                    definition = manifest.model_dump(mode="json", by_alias=True, exclude_none=True)
                    starts = set(runs.graph_of(manifest).roots())
                    prepared[key] = (template, manifest, run_params, definition, starts)
                template, manifest, run_params, definition, starts = prepared[key]
                group_id = new_id()
                base = {
                    "group_id": group_id,
                    "template_id": template.id,
                    "schedule_id": schedule.id,
                    "priority": self.settings.default_priority,
                    "created_at": now,
                    "updated_at": now,
                }
                new_rows = runs.new_run_rows(manifest, self.registry, run_params, base, new_id)
            except JobsysError as exc:
                out.append(Fired(schedule.name, instant, None, exc.format_message()))
                continue
            rows += new_rows
            roots += [r["id"] for r in new_rows if r["step"] in starts]
            runs_.append(
                {
                    "id": group_id,
                    "name": template.name,
                    "template_id": template.id,
                    "schedule_id": schedule.id,
                    "scheduled_for": instant,
                    "params": run_params,
                    "definition": definition,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            batch.append((schedule, instant, group_id, manifest))
        if not batch:
            return out
        from jobsys.celery import broker_errors

        ids = [group_id for _, _, group_id, _ in batch]
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            dags.insert_runs(conn, runs_, rows)
            writes.mark_queued(conn, roots, now)
            dags.queue_runs(conn, ids, now)
            by_run = dags.jobs_of_runs(conn, ids)
        published = 0
        try:
            with broker_errors(self.settings), self.runtime.app.producer_or_acquire() as producer:
                for schedule, instant, group_id, manifest in batch:
                    rows_by_step = runs.by_step(by_run[group_id])
                    canvas, _ = dag.run_canvas(
                        self.runtime.app, self.settings, manifest, rows_by_step
                    )
                    dag.publish_canvas(self.runtime, canvas, producer)
                    published += 1
                    out.append(Fired(schedule.name, instant, group_id))
        except JobsysError:
            with store_errors(self.settings), self.runtime.engine.begin() as conn:
                for unpublished in ids[published:]:
                    dags.delete_run(conn, unpublished)
            raise
        return out

    def fire_schedule(self, schedule: Any, instant: datetime) -> str:
        """One firing of a claimed schedule (what beat calls): a run of its template with
        its parameters, recorded as SKIPPED instead when its overlap policy is ``skip`` and
        the previous run has not ended. Returns the run's group id."""
        reason = None
        if schedule.overlap_policy == cron_mod.OverlapPolicy.SKIP.value:
            previous = self.previous_run_open(schedule.id)
            if previous is not None:
                reason = (
                    f"schedule {schedule.name}: firing of {instant.isoformat()} skipped, "
                    f"the previous run {previous} has not ended (overlap policy skip)"
                )
        template = self.template(schedule.template_id)
        manifest, run_params = self._prepare_run(template, schedule.param_overrides)
        return self._start_run(
            manifest,
            run_params,
            template.id,
            template.name,
            None,
            schedule_id=schedule.id,
            scheduled_for=instant,
            skip_reason=reason,
        )


@dataclass(frozen=True)
class Fired:
    """One firing of a schedule: the run it started, or why it could not start."""

    schedule: str
    instant: datetime
    run_id: str | None
    error: str | None = None


@dataclass(frozen=True)
class Dag:
    """A template's DAG: its steps, edges, a topological order and the canvas plan."""

    nodes: list[dict[str, Any]]
    edges: list[tuple[str, str]]
    order: list[str]
    plan: str
    exact: bool

    @classmethod
    def of(cls, manifest: Manifest) -> Dag:
        """The DAG of a manifest."""
        from jobsys.workflows.compile import describe, plan

        graph = runs.graph_of(manifest)
        compiled = plan(graph)
        nodes = [
            {
                "name": s.name,
                "type": s.type,
                "forEach": s.for_each,
                "triggerRule": s.trigger_rule.value,
                "branch": s.branch,
                "continueOnFailure": s.continue_on_failure,
                "predecessors": graph.predecessors(s.name),
                "successors": graph.successors(s.name),
            }
            for s in manifest.steps
        ]
        edges = sorted(
            graph.edges, key=lambda e: (graph.nodes.index(e[0]), graph.nodes.index(e[1]))
        )
        return cls(nodes, edges, graph.topological_order(), describe(compiled.plan), compiled.exact)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "nodes": self.nodes,
            "edges": [list(e) for e in self.edges],
            "order": self.order,
            "plan": self.plan,
            "exact": self.exact,
        }


def _canonical(value: Any) -> str:
    """A mapping as canonical JSON (a cache key)."""
    return json.dumps(value or {}, sort_keys=True, separators=(",", ":"), default=str)


def _timing(row: Any) -> cron_mod.Timing:
    """A stored schedule's timing."""
    return cron_mod.Timing(row.cron_expression, row.interval_seconds, row.timezone)


def _policy(kind: type[P], value: str, field_name: str) -> P:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(p.value for p in kind)
        raise InputError("schedule", field_name, f"{value!r}: must be one of {allowed}") from None


def _skip_run(conn: Any, group_id: str, reason: str, now: datetime) -> None:
    """End a run before it starts: each job SKIPPED with ``reason`` (a JobRun records it)."""
    for job in dags.step_jobs(conn, group_id):
        dags.end_unstarted(conn, job, RunStatus.SKIPPED, reason, now, error_type=OVERLAP_SKIP)
    writes.set_group_state(conn, group_id, GroupState.QUEUED, now)
    dags.set_group_error(conn, group_id, reason, now)
    writes.settle_group(conn, group_id, now)


def _single_step(template: Any, params: Mapping[str, Any]) -> Manifest:
    """The one-step manifest of a single-job-type template (its inputs: defaults + ``params``)."""
    return Manifest.model_validate(
        {
            "apiVersion": "jobsys/v1",
            "kind": "Job",
            "metadata": {"name": template.name},
            "steps": [
                {
                    "name": "run",
                    "type": template.job_type,
                    "with": {**(template.default_params or {}), **params},
                }
            ],
        }
    )
