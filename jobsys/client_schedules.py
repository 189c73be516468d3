"""``Client``'s schedules: templates fired on cron or an interval by ``jobsys beat``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from jobsys.client_base import _now
from jobsys.client_runs import RunsClient
from jobsys.errors import InputError, JobsysError
from jobsys.execution import dag
from jobsys.lifecycle import ScheduleState
from jobsys.scheduling import cron as cron_mod
from jobsys.store import dags, schedules, writes
from jobsys.store.models import new_id
from jobsys.store.session import store_errors
from jobsys.workflows import runs
from jobsys.workflows.manifest import Manifest

P = TypeVar("P", bound=Enum)


class SchedulesClient(RunsClient):
    """Schedules of templates."""

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
        runs.new_run_rows(
            manifest, self.registry, run_params, base, new_id, roots=self.runtime.path_roots
        )

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
                new_rows = runs.new_run_rows(
                    manifest, self.registry, run_params, base, new_id, roots=self.runtime.path_roots
                )
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
