"""The jobsys error tree.

Every error a user can see is a ``JobsysError``; each carries the data that says
what is wrong and where, and an ``exit_code`` the CLI boundary uses::

    JobsysError
    ├── ConfigError(setting)                 a setting is invalid
    │   ├── BrokerUnavailable(setting)       the broker at JOBSYS_BROKER_URL does not answer
    │   ├── StoreUnavailable(setting)        the database at JOBSYS_DATABASE_URL does not answer
    │   └── SchemaMissing(setting)           the database has no (current) jobsys schema
    ├── DefinitionError(subject, ...)        a job type (or manifest) is malformed
    ├── UnknownJobType(name)                 no registered job type has that name
    ├── InputError(job_type, field)          inputs do not match the job type's input model
    ├── NotFound(entity, key)                no such job, group, template
    ├── InvalidTransition(entity, from_, to) a lifecycle forbids that move
    ├── WaitTimeout(job_id, timeout)         a job did not finish in time
    ├── JobFailed(job_id, status, error)     asked for the result of a job that did not succeed
    ├── Unauthorized                         no valid API token was presented
    ├── Forbidden(scope)                     the API token lacks the scope a request needs
    ├── RateLimited(retry_after)             too many failed API authentications from an address
    └── JobError                             raised *by job types* to classify a failure
        ├── FatalJobError                    do not retry
        │   └── PathRefused(field, path)     a path input escapes the configured roots
        └── RetryableJobError(delay)         retry per the job type's policy

Foreign errors (kombu, redis, SQLAlchemy) are mapped to these at the adapter
boundary (``jobsys.store.session`` and ``jobsys.celery``), never shown raw.
"""

from __future__ import annotations

from typing import ClassVar


class JobsysError(Exception):
    """Base of every error jobsys raises on purpose."""

    exit_code: ClassVar[int] = 1

    def format_message(self) -> str:
        """One line for a terminal or a log."""
        return str(self)


class ConfigError(JobsysError):
    """A setting is missing or invalid."""

    exit_code = 2

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        self.setting = setting
        super().__init__(message)


class BrokerUnavailable(ConfigError):
    """The broker named by a setting cannot be reached."""

    exit_code = 3


class StoreUnavailable(ConfigError):
    """The database named by a setting cannot be reached."""

    exit_code = 3


class SchemaMissing(ConfigError):
    """The database is reachable but has no current jobsys schema."""

    exit_code = 3


class DefinitionError(JobsysError):
    """A job type or definition is malformed (names the file and line when known)."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        subject: str | None = None,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        self.subject, self.file, self.line, self.col = subject, file, line, col
        where = ":".join(str(p) for p in (file, line, col) if p is not None)
        super().__init__(f"{where}: {message}" if where else message)


class UnknownJobType(JobsysError):
    """No job type with this name is registered."""

    exit_code = 2

    def __init__(self, name: str, known: list[str] | None = None) -> None:
        self.name = name
        hint = f" (known: {', '.join(sorted(known))})" if known else ""
        super().__init__(f"unknown job type {name!r}{hint}")


class InputError(JobsysError):
    """Inputs do not validate against the job type's input model."""

    exit_code = 2

    def __init__(self, job_type: str, field: str, message: str) -> None:
        self.job_type, self.field, self.reason = job_type, field, message
        super().__init__(f"{job_type}: input {field!r}: {message}")


class NotFound(JobsysError):
    """No entity with that key exists."""

    exit_code = 4

    def __init__(self, entity: str, key: str) -> None:
        self.entity, self.key = entity, key
        super().__init__(f"no {entity} {key!r}")


class InvalidTransition(JobsysError):
    """A lifecycle forbids moving from one state to another."""

    exit_code = 5

    def __init__(self, entity: str, from_: str, to: str, key: str | None = None) -> None:
        self.entity, self.from_, self.to, self.key = entity, from_, to, key
        which = f" {key}" if key else ""
        super().__init__(f"{entity}{which} cannot go from {from_} to {to}")


class WaitTimeout(JobsysError):
    """A job did not reach a terminal state within the timeout."""

    exit_code = 6

    def __init__(self, job_id: str, timeout: float, status: str) -> None:
        self.job_id, self.timeout, self.status = job_id, timeout, status
        super().__init__(f"job {job_id} still {status} after {timeout:g}s")


class JobFailed(JobsysError):
    """The job ended without a result (FAILED, CANCELLED or SKIPPED)."""

    exit_code = 7

    def __init__(self, job_id: str, status: str, error: str | None) -> None:
        self.job_id, self.status, self.error = job_id, status, error
        super().__init__(f"job {job_id} ended {status}" + (f": {error}" if error else ""))


class Unauthorized(JobsysError):
    """The REST API received no valid bearer token."""

    exit_code = 8


class Forbidden(JobsysError):
    """The REST API token is valid but lacks the scope the request needs."""

    exit_code = 8

    def __init__(self, message: str, *, scope: str) -> None:
        self.scope = scope
        super().__init__(message)


class RateLimited(JobsysError):
    """The REST API refuses an address for a while after too many failed authentications."""

    exit_code = 8

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class JobError(JobsysError):
    """Raised by a job type to classify its own failure."""


class FatalJobError(JobError):
    """The job cannot succeed by trying again (bad source, missing track, ...)."""


class RetryableJobError(JobError):
    """The job may succeed later (engine busy, transient I/O); ``delay`` overrides backoff."""

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        self.delay = delay
        super().__init__(message)


class PathRefused(FatalJobError):
    """A path input is unusable or escapes the configured roots (``JOBSYS_SOURCE_ROOTS``).

    Raised at submit (as the field's ``InputError``) and again by the worker before the
    job opens the path: a symlink can be swapped after submit.
    """

    exit_code = 2

    def __init__(self, field: str, path: str, reason: str) -> None:
        self.field, self.path, self.reason = field, path, reason
        super().__init__(f"{field}: {path} {reason}" if field else f"{path} {reason}")
