"""Job types that do everything careless code does with a secret: the redaction test's.

Copied into a directory on the worker's ``PYTHONPATH`` and named in
``JOBSYS_JOBTYPE_MODULES`` (as ``leaky_jobs``) by tests/e2e/test_secrets_redacted.py.
"""

from __future__ import annotations

from pydantic import BaseModel

from jobsys import FatalJobError, Invariant, JobContext, job_type

NONE_KEPT = Invariant("no_state", "the job keeps nothing between runs")


class TokenInput(BaseModel):
    """A service token, given as a secret reference."""

    token: str


class Note(BaseModel):
    """What the job says it did."""

    note: str


@job_type("leaky.use", capability="leaky.test@1", invariants=[NONE_KEPT])
def use(inputs: TokenInput, ctx: JobContext) -> Note:
    """Log the secret and put it in its outputs."""
    token = ctx.secrets.resolve(inputs.token)
    ctx.logger.info("connecting with token %s", token)
    ctx.warn(f"token {token} expires soon")
    return Note(note=f"used {token}")


@job_type("leaky.fail", capability="leaky.test@1", invariants=[NONE_KEPT])
def fail(inputs: TokenInput, ctx: JobContext) -> Note:
    """Log the secret, then fail quoting it."""
    token = ctx.secrets.resolve(inputs.token)
    ctx.logger.info("trying token %s", token)
    raise FatalJobError(f"the server refused token {token}")
