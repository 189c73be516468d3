"""Request and response bodies of the REST API (separate from the store's models).

Timestamps are ISO 8601 in UTC. A response is built from a store row with
``from_row``; nothing here reads the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    """What went wrong: the error's class, one line, and the field or setting at fault."""

    type: str = Field(description="The jobsys error class, e.g. InputError, NotFound.")
    message: str
    field: str | None = Field(default=None, description="The input, parameter or setting at fault.")


class ErrorBody(BaseModel):
    """Every 4xx/5xx response of the API."""

    error: ErrorDetail


class SubmitJob(BaseModel):
    """``POST /v1/jobs``: one job of one job type."""

    model_config = ConfigDict(extra="forbid")

    job_type: str = Field(description="A registered job type, e.g. demo.echo.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="The job type's inputs.")
    priority: int | None = Field(default=None, ge=0, le=9, description="0 (low) .. 9 (high).")


class JobOut(BaseModel):
    """A job as the API shows it."""

    id: str
    job_type: str
    capability: str
    status: str
    params: dict[str, Any]
    priority: int
    group_id: str | None
    template_id: str | None
    attempt: int
    max_attempts: int
    created_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    error_type: str | None
    output_path: str | None
    output_size_bytes: int | None
    outputs: dict[str, Any] | None
    items_processed: int
    items_total: int | None
    items_failed: int
    step: str | None = Field(default=None, description="The DAG step this job runs, if any.")
    item_index: int | None = Field(default=None, description="Its element of a forEach step.")
    waiting_for: str | None = Field(
        default=None,
        description="Why a queued job does not start, e.g. "
        "'capability demo.gpu@1: no worker serves it'.",
    )

    @classmethod
    def from_row(cls, row: Any, waiting: set[str] | frozenset[str] = frozenset()) -> JobOut:
        """A store row as a response; ``waiting`` holds the capabilities no worker serves."""
        mapping = row._mapping
        data = {name: mapping[name] for name in cls.model_fields if name in mapping}
        if row.status in ("QUEUED", "PENDING") and row.capability in waiting:
            data["waiting_for"] = f"capability {row.capability}: no worker serves it"
        return cls.model_validate(data)


class CancelOut(BaseModel):
    """``POST /v1/jobs/{id}/cancel``: the job now, and the state it was cancelled from."""

    was: str
    job: JobOut


class GroupOut(BaseModel):
    """A JobGroup (a batch or a DAG run) and its jobs in position order."""

    id: str
    name: str | None
    mode: str
    status: str
    template_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(default=None, description="Why a DAG run ended as it did.")
    jobs: list[JobOut]

    @classmethod
    def from_rows(
        cls, group: Any, jobs: list[Any], waiting: set[str] | frozenset[str] = frozenset()
    ) -> GroupOut:
        """A group row and its job rows as a response."""
        mapping = group._mapping
        fields = {n: mapping[n] for n in cls.model_fields if n in mapping}
        return cls.model_validate({**fields, "jobs": [JobOut.from_row(j, waiting) for j in jobs]})


class GroupChange(BaseModel):
    """A group after a cancel or retry, and the jobs that were cancelled or re-opened."""

    job_ids: list[str]
    group: GroupOut


class Health(BaseModel):
    """``GET /healthz``."""

    status: str = "ok"


class TemplateOut(BaseModel):
    """A stored JobTemplate: one job type with defaults, or a DAG (a manifest)."""

    id: str
    name: str
    status: str
    job_type: str | None
    description: str
    default_params: dict[str, Any]
    definition: dict[str, Any] | None
    labels: dict[str, Any]
    annotations: dict[str, Any]
    provenance: dict[str, Any] | None
    source_id: str | None = None
    content_hash: str | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> TemplateOut:
        """A template row as a response."""
        mapping = row._mapping
        return cls.model_validate({n: mapping[n] for n in cls.model_fields if n in mapping})


class CreateTemplate(BaseModel):
    """``POST /v1/templates``: a single-job-type template (a manifest goes to jobdefs/apply)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    job_type: str
    default_params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    labels: dict[str, str] = Field(default_factory=dict)


class RunTemplate(BaseModel):
    """``POST /v1/templates/{name}/runs``: parameters over the template's defaults."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=0, le=9, description="0 (low) .. 9 (high).")


class ChangeOut(BaseModel):
    """What applying did (or would do) to one template."""

    action: str = Field(description="create, update, unchanged, conflict, invalid, delete, ...")
    verb: str = Field(description="What `jobsys apply` prints: created, updated, pruned, ...")
    name: str
    file: str | None
    line: int | None
    template_id: str | None
    owner: str | None = Field(description="The source owning the template (on conflict).")
    problems: list[str] = Field(description="file:line:col: message, as `jobsys lint` prints.")
    diff: str = Field(description="Unified diff of the stored definition against the new one.")


class ApplyOut(BaseModel):
    """``POST /v1/jobdefs/apply``: a change per document, in order (as `jobsys apply`)."""

    ok: bool = Field(description="No document was invalid or in conflict.")
    dry_run: bool
    changes: list[ChangeOut]
    counts: dict[str, int]
    error: ErrorDetail | None = Field(
        default=None, description="Which documents are invalid or in conflict (when not ok)."
    )


class DagOut(BaseModel):
    """A job definition's DAG: its nodes, edges (from, to) and a topological order."""

    nodes: list[dict[str, Any]] = Field(
        description="Steps: name, type, forEach, triggerRule, predecessors, successors, ..."
    )
    edges: list[list[str]]
    order: list[str] = Field(description="The steps in a topological order.")
    plan: str = Field(description="How the run is sent to Celery (the canvas shape).")
    exact: bool = Field(description="Whether the canvas keeps exactly the DAG's dependencies.")


class StepOut(BaseModel):
    """One node of a DAG run: its step's outcome and the job(s) run for it."""

    name: str
    type: str
    outcome: str = Field(description="success, failed, skipped or pending.")
    jobs: list[JobOut] = Field(description="The step's job; for forEach, then one per item.")


class RunTasksOut(BaseModel):
    """``GET /v1/jobs/{id}/runs/{run_id}/tasks``: a DAG run (a JobGroup) node by node."""

    run_id: str
    status: str
    template_id: str | None
    error: str | None
    nodes: list[StepOut]
    edges: list[list[str]]
    order: list[str]


class ScheduleOut(BaseModel):
    """A Schedule: a template, when it fires, and what happens on overlap and misfire."""

    id: str
    name: str
    template_id: str
    template_name: str | None = None
    status: str
    cron_expression: str | None
    interval_seconds: int | None
    timezone: str
    param_overrides: dict[str, Any]
    overlap_policy: str
    misfire_policy: str
    last_triggered_at: datetime | None
    next_trigger_at: datetime | None
    #: the next trigger in the schedule's own timezone
    next_trigger_local: str | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> ScheduleOut:
        """A schedule row as a response."""
        from zoneinfo import ZoneInfo

        mapping = dict(row._mapping)
        nxt = mapping.get("next_trigger_at")
        if nxt is not None:
            mapping["next_trigger_local"] = nxt.astimezone(
                ZoneInfo(mapping["timezone"])
            ).isoformat()
        return cls.model_validate({n: mapping[n] for n in cls.model_fields if n in mapping})


class CreateSchedule(BaseModel):
    """``POST /v1/schedules``: cron (in a timezone) or an interval, over a template."""

    model_config = ConfigDict(extra="forbid")

    name: str
    template: str
    cron: str | None = None
    interval_seconds: int | None = None
    timezone: str = "UTC"
    params: dict[str, Any] = Field(default_factory=dict)
    overlap: str = "allow"
    misfire: str = "skip"
    enabled: bool = True


class UpdateSchedule(BaseModel):
    """``POST /v1/schedules/{name}``: what to change (fields left out stay as they are)."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = None
    interval_seconds: int | None = None
    timezone: str | None = None
    params: dict[str, Any] | None = None
    overlap: str | None = None
    misfire: str | None = None


class RunStarted(BaseModel):
    """A run started now."""

    run_id: str
