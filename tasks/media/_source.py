"""What the media job types' input models share: the asset and its read-only source."""

from __future__ import annotations

from pathlib import PurePath
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from jobsys import SourcePath


def absolute_path(value: str) -> str:
    """A source path must be absolute: a relative one would depend on the worker's folder."""
    if not PurePath(value).is_absolute():
        raise ValueError(f"source_path must be absolute, got {value!r}")
    return value


class AssetSource(BaseModel):
    """The asset a job works for, and its source file (opened read-only, never moved)."""

    asset_uuid: UUID
    source_path: SourcePath = Field(min_length=1)

    _absolute = field_validator("source_path")(absolute_path)
