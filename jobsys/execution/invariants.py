"""Check a job type's declared invariants around an attempt."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from jobsys.context import JobContext
from jobsys.jobtypes import JobType


def before(spec: JobType[Any, Any], inputs: BaseModel, ctx: JobContext) -> list[Any]:
    """Take each checked invariant's snapshot before the attempt."""
    return [inv.before(inputs, ctx) if inv.before else None for inv in spec.invariants]


def after(
    spec: JobType[Any, Any],
    inputs: BaseModel,
    output: BaseModel,
    ctx: JobContext,
    snapshots: list[Any],
) -> None:
    """Run each checked invariant after the attempt; they raise ``FatalJobError``."""
    for inv, snap in zip(spec.invariants, snapshots, strict=True):
        if inv.after:
            inv.after(inputs, output, ctx, snap)
