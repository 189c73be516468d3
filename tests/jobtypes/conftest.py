"""A ``JobContext`` for calling job types as plain functions: no broker, no store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobsys import JobContext

MakeContext = Callable[..., JobContext]


@pytest.fixture
def make_context(tmp_path: Path) -> Iterator[MakeContext]:
    """``make_context(job_type, attempt=1)``: a context whose staging and log live in tmp_path."""
    made: list[JobContext] = []

    def make(job_type: str = "test.job", attempt: int = 1) -> JobContext:
        job_id = f"job-{len(made) + 1}"
        ctx = JobContext(
            job_id=job_id,
            job_type=job_type,
            attempt=attempt,
            staging_path=tmp_path / ".staging" / job_id,
            log_path=tmp_path / "logs" / f"{job_id}.log",
        )
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()
