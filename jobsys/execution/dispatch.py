"""Publishing jobs to their capability's queue, and revoking them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from jobsys.celery import PUBLISH_RETRY, broker_errors, broker_priority
from jobsys.jobtypes import JobType
from jobsys.runtime import Runtime
from jobsys.settings import Settings
from jobsys.store.models import new_id


@dataclass(frozen=True)
class Message:
    """What a queue needs to know of a job: its task id is the job id (or a retry's id)."""

    job_id: str
    job_type: str
    queue: str
    priority: int
    task_id: str


def job_row(
    settings: Settings, spec: JobType[Any, Any], inputs: BaseModel, priority: int | None
) -> dict[str, Any]:
    """The row of a new job (PENDING): its id is also its Celery task id."""
    job_id, now = new_id(), datetime.now(UTC)
    return {
        "id": job_id,
        "task_id": job_id,
        "job_type": spec.name,
        "job_type_version": spec.version,
        "capability": str(spec.capability),
        "params": inputs.model_dump(mode="json"),
        "priority": settings.default_priority if priority is None else priority,
        "max_attempts": spec.retry.max_attempts,
        "created_at": now,
        "updated_at": now,
    }


def publish(runtime: Runtime, messages: Sequence[Message]) -> None:
    """Send messages; a batch goes through one producer in one pipelined flush (Redis)."""
    if not messages:
        return
    app, settings = runtime.app, runtime.settings
    with broker_errors(settings):
        with app.producer_or_acquire() as producer:
            batch = producer.batch() if len(messages) > 1 else None
            if batch is not None:
                batch.__enter__()
            try:
                for m in messages:
                    app.send_task(
                        m.job_type,
                        args=[m.job_id],
                        task_id=m.task_id,
                        queue=m.queue,
                        priority=broker_priority(settings, m.priority),
                        producer=producer,
                        ignore_result=True,  # outcomes live in the store: never subscribe
                        retry=True,
                        retry_policy=PUBLISH_RETRY,
                    )
            except BaseException as exc:
                if batch is not None:
                    batch.__exit__(type(exc), exc, exc.__traceback__)
                raise
            if batch is not None:
                batch.__exit__(None, None, None)


def revoke(runtime: Runtime, task_id: str, terminate: bool) -> None:
    """Tell workers to drop (or terminate) a task; the store already says it is cancelled."""
    with broker_errors(runtime.settings):
        runtime.app.control.revoke(task_id, terminate=terminate, signal="SIGTERM")
