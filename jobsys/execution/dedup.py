"""Duplicate detection (seed 004): a rerun on unchanged input is recorded as SKIPPED.

Only for job types that declare ``source=`` and ``asset=`` (deterministic output
location). Each successful run records its source's fingerprint in the JobRun's
``artifacts["source"]``. Before an attempt runs, the job that last published at the
same location is looked up (existing columns only: ``jobs.job_type``,
``output_path``, ``params``, ``status`` and its last run's ``artifacts``). When it
had the same inputs, the same source fingerprint, and its files are still there,
this attempt does no work: it is recorded SKIPPED, with that job's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection

from jobsys import fingerprint, paths
from jobsys.errors import JobsysError, PathRefused
from jobsys.execution import placement, staging
from jobsys.jobtypes import JobType
from jobsys.lifecycle import RunStatus
from jobsys.runtime import Runtime
from jobsys.store import queries


@dataclass(frozen=True)
class Duplicate:
    """The earlier job whose published outputs this attempt would reproduce."""

    job_id: str
    outputs: dict[str, Any]
    output_path: str
    output_size_bytes: int | None
    files: list[str]


@dataclass(frozen=True)
class Plan:
    """Where this attempt publishes, its source's fingerprint, and what it duplicates."""

    location: Path
    source: dict[str, Any] | None = None
    duplicate: Duplicate | None = None
    #: the location could not be used (it would leave the outputs folder): the attempt fails
    refused: PathRefused | None = None

    @property
    def recorded(self) -> dict[str, Any]:
        """What a successful run adds to its ``artifacts`` (the source's fingerprint)."""
        return {"source": self.source} if self.source is not None else {}


def plan(runtime: Runtime, spec: JobType[Any, Any], job_id: str, params: dict[str, Any]) -> Plan:
    """Decide, before an attempt, where it publishes and whether it is a duplicate."""
    per_job = staging.output_path(runtime.outputs_root, spec.name, job_id)
    try:
        if spec.asset is None:  # the common case: a folder per job, nothing to compare
            return Plan(placement.output_location(runtime.outputs_root, spec, None, job_id))
        inputs = spec.input_model.model_validate(params, context=paths.context(runtime.path_roots))
        location = placement.output_location(runtime.outputs_root, spec, inputs, job_id)
    except PathRefused as exc:
        return Plan(per_job, refused=exc)
    except (ValidationError, JobsysError):  # the attempt itself reports bad inputs
        return Plan(per_job)
    source = source_fingerprint(spec, params)
    if source is None:
        return Plan(location)
    with runtime.engine.connect() as conn:
        return Plan(location, source, find_duplicate(conn, spec, job_id, params, location, source))


def source_fingerprint(spec: JobType[Any, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    """The declared source's fingerprint as stored with runs; None when not applicable.

    An unreadable source gives None here: the attempt then runs and fails as its
    job type classifies it.
    """
    if spec.source is None or spec.asset is None or not params.get(spec.source):
        return None
    try:
        return fingerprint.take(str(params[spec.source])).as_dict()
    except JobsysError:
        return None


def find_duplicate(
    conn: Connection,
    spec: JobType[Any, Any],
    job_id: str,
    params: dict[str, Any],
    location: Path,
    source: dict[str, Any] | None,
) -> Duplicate | None:
    """The earlier job this attempt duplicates, or None when it must run."""
    if source is None:
        return None
    last = queries.last_published(conn, spec.name, str(location), job_id)
    if last is None or last.params != params or last.outputs is None:
        return None
    artifacts = last.artifacts or {}
    files = [str(f) for f in artifacts.get("files", [])]
    if artifacts.get("source") != source or not all(Path(f).is_file() for f in files):
        return None
    return Duplicate(last.id, dict(last.outputs), last.output_path, last.output_size_bytes, files)


def skipped_run(duplicate: Duplicate, plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JobRun values and job values of an attempt skipped as ``duplicate``."""
    reason = f"duplicate of job {duplicate.job_id}: same inputs, unchanged source"
    artifacts = {"files": duplicate.files, **plan.recorded, "duplicate_of": duplicate.job_id}
    run = {
        "status": RunStatus.SKIPPED.value,
        "exit_code": 0,
        "outputs": duplicate.outputs,
        "artifacts": artifacts,
        "error": reason,
    }
    job = {
        "outputs": duplicate.outputs,
        "output_path": duplicate.output_path,
        "output_size_bytes": duplicate.output_size_bytes,
        "error": reason,
        "error_type": None,
    }
    return run, job
