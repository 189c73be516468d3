"""SQLAlchemy 2 typed models: JobTemplate, Schedule, JobGroup, Job, JobRun (seed 004), SinkStat,
MaintenanceRun.

Timestamps are stored as UTC and read back timezone-aware on every backend.
``job_runs`` is append-only: an UPDATE is refused by a database trigger (created
with the table and by the migration) and by an ORM guard.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def new_id() -> str:
    """A fresh id; a job's id is also its Celery task id."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store naive UTC, return aware UTC: no local-time or string-parsing pitfalls."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base with jobsys's column types."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class JobTemplate(Base):
    """A reusable specification: one job type with defaults, or a DAG (a manifest)."""

    __tablename__ = "job_templates"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    job_type: Mapped[str | None] = mapped_column(String(200))
    default_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    definition: Mapped[dict[str, Any] | None] = mapped_column()
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="CREATED")
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    provenance: Mapped[dict[str, Any] | None] = mapped_column()
    #: identity of the source that owns the definition (a file path, ``git:<url>#<glob>``)
    source_id: Mapped[str | None] = mapped_column(String(1000), index=True)
    #: sha256 of the normalized definition: an unchanged document is not written again
    content_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column()


class Schedule(Base):
    """When a template runs: cron (with timezone) or a fixed interval."""

    __tablename__ = "schedules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    template_id: Mapped[str] = mapped_column(ForeignKey("job_templates.id"))
    cron_expression: Mapped[str | None] = mapped_column(String(200))
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[str] = mapped_column(String(20), default="CREATED")
    param_overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    overlap_policy: Mapped[str] = mapped_column(String(10), default="allow")
    misfire_policy: Mapped[str] = mapped_column(String(10), default="skip")
    last_triggered_at: Mapped[datetime | None] = mapped_column()
    next_trigger_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduleChange(Base):
    """One row whose ``version`` is bumped by every change of a schedule: beat polls it."""

    __tablename__ = "schedule_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobGroup(Base):
    """The jobs of one batch or DAG run; ``mode`` is parallel or sequential."""

    __tablename__ = "job_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(12), default="parallel")
    status: Mapped[str] = mapped_column(String(20), default="CREATED", index=True)
    template_id: Mapped[str | None] = mapped_column(ForeignKey("job_templates.id"))
    #: the schedule whose firing started this run (None for runs started by hand)
    schedule_id: Mapped[str | None] = mapped_column(ForeignKey("schedules.id"), index=True)
    #: the scheduled instant a schedule's firing was for (its lateness: created_at - this)
    scheduled_for: Mapped[datetime | None] = mapped_column()
    #: a DAG run's parameters (template defaults overlaid with the run's own)
    params: Mapped[dict[str, Any] | None] = mapped_column()
    #: a DAG run's manifest, as it was when the run started
    definition: Mapped[dict[str, Any] | None] = mapped_column()
    #: why the run ended as it did beyond its jobs (a failed chord join, a callback)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """One execution request. Its inputs (``params``) never change once queued."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status", "status"),
        Index("ix_jobs_updated_at", "updated_at"),
        Index("ix_jobs_job_type", "job_type"),
        Index("ix_jobs_capability_status", "capability", "status"),
        Index("ix_jobs_group_position", "group_id", "position"),
        Index("ix_jobs_group_step", "group_id", "step"),
        Index("ix_jobs_group_status", "group_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    template_id: Mapped[str | None] = mapped_column(ForeignKey("job_templates.id"))
    schedule_id: Mapped[str | None] = mapped_column(ForeignKey("schedules.id"))
    group_id: Mapped[str | None] = mapped_column(ForeignKey("job_groups.id"))
    job_type: Mapped[str] = mapped_column(String(200))
    job_type_version: Mapped[int] = mapped_column(Integer, default=1)
    capability: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    position: Mapped[int | None] = mapped_column(Integer)
    #: the DAG step this job runs (None outside DAG runs)
    step: Mapped[str | None] = mapped_column(String(100))
    #: the element of a ``forEach`` step this job runs
    item_index: Mapped[int | None] = mapped_column(Integer)
    #: the step has no successor: its end may be the end of its DAG run
    sink: Mapped[bool | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(30), default="PENDING")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    task_id: Mapped[str | None] = mapped_column(String(64))
    worker_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    cancel_requested_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    outputs: Mapped[dict[str, Any] | None] = mapped_column()
    output_path: Mapped[str | None] = mapped_column(Text)
    output_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    error_type: Mapped[str | None] = mapped_column(String(200))
    items_processed: Mapped[int] = mapped_column(Integer, default=0)
    items_total: Mapped[int | None] = mapped_column(Integer)
    items_failed: Mapped[int] = mapped_column(Integer, default=0)


class JobRun(Base):
    """One attempt of one job. Inserted once, never updated."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_id", "attempt", name="uq_job_runs_job_attempt"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    job_type: Mapped[str] = mapped_column(String(200))
    template_id: Mapped[str | None] = mapped_column(String(36))
    params_snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(30), index=True)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(String(200))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    error_type: Mapped[str | None] = mapped_column(String(200))
    traceback: Mapped[str | None] = mapped_column(Text)
    artifacts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outputs: Mapped[dict[str, Any] | None] = mapped_column()
    log_path: Mapped[str | None] = mapped_column(Text)


class CallbackDelivery(Base):
    """One callback of a DAG run (a job to submit or a URL to POST), with its attempts."""

    __tablename__ = "callback_deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    group_id: Mapped[str] = mapped_column(ForeignKey("job_groups.id"), index=True)
    event: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    target: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SinkStat(Base):
    """Figures a running job wrote to one output of one sink since its previous row.

    One row per (sink, output) per flush (batched, at most every half second): the rows,
    bytes, writes and errors added, the writes' mean and worst latency. Sum per job or
    per ``sink_uri`` for totals; issue 7's jobs view reads them (seed 001 §8.2).
    """

    __tablename__ = "sink_stats"
    __table_args__ = (Index("ix_sink_stats_sink_uri_recorded_at", "sink_uri", "recorded_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    sink_uri: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    writes: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    write_latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    max_latency_ms: Mapped[float] = mapped_column(Float, default=0.0)


class MaintenanceRun(Base):
    """The last run of one housekeeping task (``history_prune``), claimed by one beat.

    A beat claims the row with a compare-and-set UPDATE of ``started_at`` before it runs
    the task, so two beats never run it for the same day (``jobsys.store.maintenance``).
    """

    __tablename__ = "maintenance_runs"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    #: the process that claimed the last run (``host:pid``)
    owner: Mapped[str | None] = mapped_column(String(200))
    #: what the last run did (a ``PruneReport`` as JSON), or its error
    report: Mapped[dict[str, Any] | None] = mapped_column()


# Append-only, enforced by the database (the store writes with Core, not the ORM).
APPEND_ONLY_SQLITE = DDL(
    "CREATE TRIGGER IF NOT EXISTS job_runs_append_only BEFORE UPDATE ON job_runs "
    "BEGIN SELECT RAISE(ABORT, 'job_runs is append-only'); END"
)
APPEND_ONLY_PG_FUNCTION = DDL(
    "CREATE OR REPLACE FUNCTION jobsys_job_runs_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'job_runs is append-only'; END $$ LANGUAGE plpgsql"
)
APPEND_ONLY_PG_TRIGGER = DDL(
    "CREATE TRIGGER job_runs_append_only BEFORE UPDATE ON job_runs "
    "FOR EACH ROW EXECUTE FUNCTION jobsys_job_runs_append_only()"
)
_table = JobRun.__table__
event.listen(_table, "after_create", APPEND_ONLY_SQLITE.execute_if(dialect="sqlite"))
event.listen(_table, "after_create", APPEND_ONLY_PG_FUNCTION.execute_if(dialect="postgresql"))
event.listen(_table, "after_create", APPEND_ONLY_PG_TRIGGER.execute_if(dialect="postgresql"))


@event.listens_for(JobRun, "before_update")
def _refuse_update(*_: object) -> None:
    raise ValueError("job_runs is append-only: a JobRun is never updated")
