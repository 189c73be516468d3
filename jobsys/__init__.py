"""jobsys: a distributed job system on Celery.

Everything a job-type author or a caller needs::

    from jobsys import Client, JobContext, job_type, errors
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobsys import errors
from jobsys.context import JobContext
from jobsys.errors import FatalJobError, JobsysError, RetryableJobError
from jobsys.jobtypes import Invariant, RetryPolicy, job_type
from jobsys.lifecycle import JobState, RunStatus
from jobsys.paths import SourcePath

if TYPE_CHECKING:
    from jobsys.client import Client, JobHandle

__all__ = [
    # Calling jobs
    "Client",
    "JobHandle",
    "JobState",
    "RunStatus",
    # Writing job types
    "Invariant",
    "JobContext",
    "RetryPolicy",
    "SourcePath",
    "job_type",
    # Errors
    "FatalJobError",
    "JobsysError",
    "RetryableJobError",
    "errors",
]


def __getattr__(name: str) -> Any:
    # The client pulls in Celery and SQLAlchemy; job types must not, so load it on demand.
    if name in {"Client", "JobHandle"}:
        from jobsys import client

        return getattr(client, name)
    raise AttributeError(f"module 'jobsys' has no attribute {name!r}")
