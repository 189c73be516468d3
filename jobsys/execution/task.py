"""``JobTask``: the Celery task shell around ``run_attempt`` (one task per job type)."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from jobsys.execution.runner import Later, run_attempt
from jobsys.jobtypes import JobType
from jobsys.runtime import Runtime


class JobTask(Task):  # type: ignore[misc]
    """Maps a Celery delivery to ``run_attempt``; a ``Later`` becomes ``self.retry``."""

    typing = False
    acks_late = True
    reject_on_worker_lost = True
    #: a hard time limit kills the process: requeue, so the lost attempt is recorded and retried
    acks_on_timeout = False
    ignore_result = True


def bind_tasks(app: Celery, runtime: Runtime) -> None:
    """Register one task per job type, named after the job type, and the DAG tasks, on ``app``."""
    from jobsys.execution.dag import bind_internal_tasks

    for spec in runtime.registry:
        _bind(app, runtime, spec)
    bind_internal_tasks(app, runtime)


def _bind(app: Celery, runtime: Runtime, spec: JobType[Any, Any]) -> None:
    def run(self: JobTask, job_id: str) -> str:
        outcome = run_attempt(runtime, spec, job_id, self.request.hostname)
        if isinstance(outcome, Later):
            raise self.retry(countdown=outcome.delay, max_retries=None)
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
