"""``jobsys.noop``: does nothing; for benchmarks and smoke tests."""

from __future__ import annotations

from pydantic import BaseModel

from jobsys import Invariant, JobContext, job_type


class NoopInput(BaseModel):
    """No inputs."""


class NoopOutput(BaseModel):
    """No outputs."""


@job_type(
    "jobsys.noop",
    capability="jobsys.noop@1",
    invariants=[Invariant("no_side_effects", "writes nothing, reads nothing")],
)
def noop(inputs: NoopInput, ctx: JobContext) -> NoopOutput:
    """Do nothing, successfully."""
    return NoopOutput()
