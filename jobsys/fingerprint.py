"""A source file's fingerprint (size, mtime, SHA-256) and the invariant built on it.

Seed 003: a job never modifies or moves its source. A job type that names its
source field (``@job_type(source="source_path")``) gets the ``source_unchanged``
invariant (``jobsys.jobtypes``) checked around every attempt: the fingerprint is
taken before and after, and any difference fails the run saying what changed. The
same fingerprint feeds the duplicate detection in ``jobsys.execution.dedup``.
Pure: stdlib and the core's errors only.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jobsys.errors import FatalJobError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a source file's content and state."""

    size: int
    mtime_ns: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with each run)."""
        return asdict(self)


def take(path: str | os.PathLike[str]) -> Fingerprint:
    """Fingerprint ``path``, opened read-only; ``FatalJobError`` when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as source:  # read-only: the source is never opened for writing
            before = os.fstat(source.fileno())
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise FatalJobError(f"source {os.fspath(path)!r} is unreadable: {exc.strerror}") from exc
    return Fingerprint(before.st_size, before.st_mtime_ns, digest.hexdigest())


def _differences(before: Fingerprint, after: Fingerprint) -> list[str]:
    return [
        f"{name} {getattr(before, name)} -> {getattr(after, name)}"
        for name in ("size", "mtime_ns", "sha256")
        if getattr(before, name) != getattr(after, name)
    ]


def check_unchanged(path: str | os.PathLike[str], before: Fingerprint) -> None:
    """``FatalJobError`` naming the invariant and what changed, if ``path`` is not ``before``."""
    if not Path(path).is_file():
        raise FatalJobError(
            f"invariant source_unchanged violated: {os.fspath(path)} was moved or deleted "
            "during the run"
        )
    changed = _differences(before, take(path))
    if changed:
        raise FatalJobError(
            f"invariant source_unchanged violated: {os.fspath(path)} changed during the run "
            f"({'; '.join(changed)})"
        )
