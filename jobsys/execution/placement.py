"""Where an attempt's outputs are published.

By default ``<outputs>/<job type>/<job id>``. A job type declaring ``asset=``
gets a deterministic location instead, derived only from (asset UUID, job type,
profile, capability version): ``<outputs>/<job type>/<asset>/<profile>/v<major>``.
Running the same job twice therefore writes the same place, and a later run
replaces an earlier one's files atomically (``staging.publish``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from jobsys.errors import FatalJobError
from jobsys.execution import staging
from jobsys.jobtypes import JobType

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")


def _segment(spec: JobType[Any, Any], what: str, value: object) -> str:
    text = str(value)
    if not _SEGMENT.match(text) or ".." in text:
        raise FatalJobError(
            f"{spec.name}: {what} {text!r} cannot name an output folder "
            "(letters, digits and . _ @ + - only)"
        )
    return text


def output_location(
    outputs_root: Path, spec: JobType[Any, Any], inputs: BaseModel, job_id: str
) -> Path:
    """The folder the attempt's staged files are published to."""
    if spec.asset is None:
        return staging.output_path(outputs_root, spec.name, job_id)
    asset = _segment(spec, spec.asset, getattr(inputs, spec.asset))
    key = spec.output_key(inputs) if spec.output_key is not None else "default"
    parts = [_segment(spec, "output key part", p) for p in key.split("/")]
    return outputs_root / spec.name / asset / Path(*parts) / f"v{spec.capability.major}"
