"""Validation shared by the media job types' input models."""

from __future__ import annotations

from pathlib import PurePath


def absolute_path(value: str) -> str:
    """A source path must be absolute: a relative one would depend on the worker's folder."""
    if not PurePath(value).is_absolute():
        raise ValueError(f"source_path must be absolute, got {value!r}")
    return value
