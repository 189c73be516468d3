"""``.staging/<job_id>/`` and its atomic publication into the outputs folder."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Published:
    """Where an attempt's outputs ended up."""

    path: str
    size_bytes: int
    artifacts: list[str]


def staging_path(staging_root: Path, job_id: str) -> Path:
    """The staging directory of a job (created on first use by the context)."""
    return staging_root / job_id


def output_path(outputs_root: Path, job_type: str, job_id: str) -> Path:
    """Where a job's outputs are published."""
    return outputs_root / job_type / job_id


def clear(staging: Path) -> None:
    """Remove what an earlier, interrupted attempt left in staging."""
    shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, final: Path) -> Published | None:
    """Move ``staging`` to ``final`` in one rename; None when the job staged nothing.

    A previous publication of the same job (an earlier attempt that succeeded but
    was not recorded) is replaced, so the final folder always holds one attempt's files.
    """
    if not staging.is_dir():
        return None
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    if not files:  # nothing, or only empty folders
        shutil.rmtree(staging, ignore_errors=True)
        return None
    size = sum(p.stat().st_size for p in files)
    artifacts = [str(final / p.relative_to(staging)) for p in files]
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        trash = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, trash)
        os.replace(staging, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(staging, final)
    return Published(str(final), size, artifacts)
