"""``Client``'s DAG runs: run a template as a Celery canvas, follow, retry and cancel it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobsys.client_base import _now
from jobsys.client_templates import TemplatesClient
from jobsys.errors import (
    DefinitionError,
    InputError,
    InvalidTransition,
    JobsysError,
    NotFound,
    WaitTimeout,
)
from jobsys.execution import dag
from jobsys.lifecycle import GROUP_TERMINAL, GroupState, RunStatus, TemplateState
from jobsys.store import dags, queries, writes
from jobsys.store.models import new_id
from jobsys.store.session import store_errors
from jobsys.workflows import runs
from jobsys.workflows.callback_hosts import HostPolicy
from jobsys.workflows.lint import callback_refusals
from jobsys.workflows.manifest import Manifest

#: the error type of a job a schedule's firing skipped because the previous run had not ended
OVERLAP_SKIP = "ScheduleOverlap"


class RunsClient(TemplatesClient):
    """Runs of templates (JobGroups of mode ``dag``)."""

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
        """The manifest and run parameters of a run of ``template``; archived ones refused.

        So is a template whose HTTP callbacks ``callback_allowed_hosts`` (as set now) refuses.
        """
        if template.deleted_at is not None or template.status == TemplateState.ARCHIVED.value:
            raise InvalidTransition(
                "template", TemplateState.ARCHIVED.value, "run", key=template.name
            )
        given = dict(params or {})
        if template.definition is None:
            return _single_step(template, given), {}
        manifest = Manifest.model_validate(template.definition)
        hosts = HostPolicy(self.settings.callback_allowed_hosts)
        for loc, why in callback_refusals(manifest, hosts):
            field = ".".join(str(p) for p in loc)
            raise DefinitionError(
                f"template {template.name}: {field}: {why}", subject=template.name
            )
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
        rows = runs.new_run_rows(
            manifest, self.registry, params, base, new_id, roots=self.runtime.path_roots
        )
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


def _skip_run(conn: Any, group_id: str, reason: str, now: datetime) -> None:
    """End a run before it starts: each job SKIPPED with ``reason`` (a JobRun records it)."""
    for job in dags.step_jobs(conn, group_id):
        dags.end_unstarted(conn, job, RunStatus.SKIPPED, reason, now, error_type=OVERLAP_SKIP)
    writes.set_group_state(conn, group_id, GroupState.QUEUED, now)
    dags.set_group_error(conn, group_id, reason, now)
    writes.settle_group(conn, group_id, now)
