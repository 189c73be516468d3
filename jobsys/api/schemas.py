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
    waiting_for: str | None = Field(
        default=None,
        description="Why a queued job does not start, e.g. "
        "'capability demo.gpu@1: no worker serves it'.",
    )

    @classmethod
    def from_row(cls, row: Any, waiting: set[str] | frozenset[str] = frozenset()) -> JobOut:
        """A store row as a response; ``waiting`` holds the capabilities no worker serves."""
        data = {name: getattr(row, name) for name in cls.model_fields if name != "waiting_for"}
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
    jobs: list[JobOut]

    @classmethod
    def from_rows(
        cls, group: Any, jobs: list[Any], waiting: set[str] | frozenset[str] = frozenset()
    ) -> GroupOut:
        """A group row and its job rows as a response."""
        fields = {n: getattr(group, n) for n in cls.model_fields if n != "jobs"}
        return cls.model_validate({**fields, "jobs": [JobOut.from_row(j, waiting) for j in jobs]})


class Health(BaseModel):
    """``GET /healthz``."""

    status: str = "ok"
