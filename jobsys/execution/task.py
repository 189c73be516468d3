"""``JobTask``: the Celery task shell around ``run_attempt`` (one task per job type)."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task

from jobsys.errors import StoreUnavailable
from jobsys.execution.runner import Later, Unrecorded, run_attempt
from jobsys.jobtypes import JobType
from jobsys.runtime import Runtime
from jobsys.store.retrying import is_connection_error

log = logging.getLogger(__name__)


class JobTask(Task):  # type: ignore[misc]
    """Maps a Celery delivery to ``run_attempt``; a ``Later`` becomes ``self.retry``."""

    typing = False
    acks_late = True
    reject_on_worker_lost = True
    #: a hard time limit kills the process: requeue, so the lost attempt is recorded and retried
    acks_on_timeout = False
    ignore_result = True
    #: a deferred delivery retries until the store lets it run or drop (``max_retries=None``
    #: passed to ``retry`` means the task's default, hence None here)
    max_retries = None


def bind_tasks(app: Celery, runtime: Runtime) -> None:
    """Register one task per job type, named after the job type, and the DAG tasks, on ``app``."""
    from jobsys.execution.dag import bind_internal_tasks

    for spec in runtime.registry:
        _bind(app, runtime, spec)
    bind_internal_tasks(app, runtime)


#: seconds before a message whose store writes did not get through is delivered again
STORE_RETRY_DELAY = 5.0


def _bind(app: Celery, runtime: Runtime, spec: JobType[Any, Any]) -> None:
    def run(self: JobTask, job_id: str, record: dict[str, Any] | None = None) -> str:
        try:
            outcome = run_attempt(runtime, spec, job_id, self.request.hostname, record)
        except Exception as exc:  # the store stayed out of reach: never ack a lost job
            if not (isinstance(exc, StoreUnavailable) or is_connection_error(exc)):
                raise
            log.error("job %s: store unavailable, message sent back to the broker: %s", job_id, exc)
            raise self.retry(
                countdown=STORE_RETRY_DELAY, max_retries=None, kwargs=_kwargs(record)
            ) from exc
        if isinstance(outcome, Unrecorded):
            log.error("job %s: %s; message sent back to the broker", job_id, outcome.detail)
            raise self.retry(
                countdown=STORE_RETRY_DELAY, max_retries=None, kwargs=_kwargs(outcome.record)
            )
        if isinstance(outcome, Later):  # a retry, or a deferred duplicate (no record carried)
            raise self.retry(countdown=outcome.delay, max_retries=None, kwargs={})
        return outcome.detail

    run.__name__ = spec.name.replace(".", "_")
    run.__doc__ = spec.description
    # shared=False: a task belongs to this app only (Celery's default registers it on every
    # app created later in the process, with this runtime's closure).
    options: dict[str, Any] = {"name": spec.name, "bind": True, "base": JobTask, "shared": False}
    if spec.soft_time_limit:
        options["soft_time_limit"] = spec.soft_time_limit
    if spec.time_limit or spec.soft_time_limit:
        options["time_limit"] = spec.time_limit or (spec.soft_time_limit or 0) + 30
    app.task(**options)(run)


def _kwargs(record: dict[str, Any] | None) -> dict[str, Any]:
    return {"record": record} if record is not None else {}
