"""``@job_type(asset=, source=, output_key=)``: checked at registration, and what they give."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from jobsys import FatalJobError, Invariant, JobContext, job_type
from jobsys.errors import DefinitionError
from jobsys.execution import placement
from jobsys.jobtypes import spec_of

SAFE = Invariant("idempotent", "running twice gives the same output")


class In(BaseModel):
    """Inputs."""

    asset: str
    path: str
    profile: str = "small"


class Out(BaseModel):
    """Outputs."""


def work(inputs: In, ctx: JobContext) -> Out:
    """Do nothing."""
    return Out()


def test_asset_and_source_must_name_input_fields() -> None:
    with pytest.raises(DefinitionError, match="asset='asset_uuid' is not a field of In"):
        job_type("t.a", capability="t.a@1", invariants=[SAFE], asset="asset_uuid")(work)
    with pytest.raises(DefinitionError, match="source='source' is not a field of In"):
        job_type("t.a", capability="t.a@1", invariants=[SAFE], source="source")(work)
    with pytest.raises(DefinitionError, match="output_key needs asset="):
        job_type("t.a", capability="t.a@1", invariants=[SAFE], output_key=lambda i: "x")(work)


def test_a_declared_source_adds_the_source_unchanged_invariant() -> None:
    fn = job_type("t.b", capability="t.b@2", invariants=[SAFE], asset="asset", source="path")(work)
    names = [i.name for i in spec_of(fn).invariants]
    assert names == ["idempotent", "source_unchanged"]


def test_the_location_comes_from_asset_key_and_capability_major(tmp_path: Path) -> None:
    fn = job_type(
        "t.c",
        capability="t.c@3",
        invariants=[SAFE],
        asset="asset",
        output_key=lambda i: f"{i.profile}/x",
    )(work)
    spec = spec_of(fn)
    where = placement.output_location(tmp_path, spec, In(asset="a1", path="/p"), "job")
    assert where == tmp_path / "t.c" / "a1" / "small" / "x" / "v3"
    with pytest.raises(FatalJobError, match="asset: ../etc cannot name an output folder"):
        placement.output_location(tmp_path, spec, In(asset="../etc", path="/p"), "job")
