"""Where an attempt's outputs are published.

By default ``<outputs>/<job type>/<job id>``. A job type declaring ``asset=``
gets a deterministic location instead, derived only from (asset UUID, job type,
profile, capability version): ``<outputs>/<job type>/<asset>/<profile>/v<major>``.
Running the same job twice therefore writes the same place, and a later run
replaces an earlier one's files atomically (``staging.publish``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from jobsys import paths
from jobsys.execution import staging
from jobsys.jobtypes import JobType, output_parts


def output_location(
    outputs_root: Path, spec: JobType[Any, Any], inputs: BaseModel | None, job_id: str
) -> Path:
    """The folder the attempt's staged files are published to.

    ``PathRefused`` when a part cannot name a folder, or when the folder would resolve
    outside ``outputs_root`` (a symlink planted on the way).
    """
    if spec.asset is None or inputs is None:
        location = staging.output_path(outputs_root, spec.name, job_id)
    else:
        asset, parts = output_parts(spec, inputs)
        location = outputs_root / spec.name / asset / Path(*parts) / f"v{spec.capability.major}"
    return paths.inside(outputs_root, location, field="output location")
