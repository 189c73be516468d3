"""Checked by mypy (tests/typing/test_typing.py), never imported by pytest.

``@job_type`` keeps the function's type: ``(Input, JobContext) -> Output``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import assert_type

from pydantic import BaseModel

from jobsys import Invariant, JobContext, job_type


class Thumbnail(BaseModel):
    """Inputs."""

    source: str
    width: int = 320


class ThumbnailOut(BaseModel):
    """Outputs."""

    path: str


@job_type(
    "typing.thumbnail",
    capability="typing.thumbnails@1",
    invariants=[Invariant("recreatable", "outputs derive only from inputs")],
)
def thumbnail(inputs: Thumbnail, ctx: JobContext) -> ThumbnailOut:
    """Make a thumbnail."""
    return ThumbnailOut(path=str(ctx.staging_dir / f"{inputs.width}.jpg"))


assert_type(thumbnail, Callable[[Thumbnail, JobContext], ThumbnailOut])


def call_it_directly(ctx: JobContext) -> None:
    out = thumbnail(Thumbnail(source="a.mov"), ctx)
    assert_type(out, ThumbnailOut)
    assert_type(out.path, str)
    thumbnail(ThumbnailOut(path="x"), ctx)  # type: ignore[arg-type]
    thumbnail(Thumbnail(source="a.mov"))  # type: ignore[call-arg]
    wrong: int = thumbnail(Thumbnail(source="a.mov"), ctx)  # type: ignore[assignment]
    del wrong


# The decorator only accepts functions over pydantic models.
@job_type(  # type: ignore[type-var]
    "typing.untyped",
    capability="typing.thumbnails@1",
    invariants=[Invariant("recreatable", "outputs derive only from inputs")],
)
def not_models(inputs: dict[str, int], ctx: JobContext) -> int:
    """Rejected by mypy (and at run time)."""
    return 0
