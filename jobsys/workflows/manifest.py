"""Manifest v1: pydantic models of a ``*.job.yaml`` document, and its JSON Schema.

A manifest is one ``kind: Job`` document: metadata, a trigger (manual or cron),
callbacks, and steps forming a DAG. Edges come from ``next`` (string or list) on
the upstream step and/or ``dependsOn`` on the downstream one; both mean the same
edge. Values in ``with`` and ``forEach`` may hold expressions (see
``jobsys.workflows.expressions``). Models are strict about unknown keys so a typo
is an error with its line, not a silently ignored field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

API_VERSION = "jobsys/v1"
SCHEMA_ID = "https://jobsys.dev/schema/manifest-v1.json"
_STEP_NAME = r"^[a-z][a-z0-9_-]*$"


class Strict(BaseModel):
    """Unknown keys are errors; field names may use their YAML spelling."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class TriggerRule(StrEnum):
    """When a step runs, given how its predecessors ended."""

    #: every predecessor succeeded (or failed with continueOnFailure)
    ALL_SUCCESS = "all_success"
    #: every predecessor finished, whatever the outcome
    ALL_DONE = "all_done"
    #: at least one predecessor succeeded
    ONE_SUCCESS = "one_success"
    #: every predecessor failed
    ALL_FAILED = "all_failed"


class Metadata(Strict):
    """Who the definition is: its name (the template's name), labels and annotations."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=200)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    description: str = ""


class ManualTrigger(Strict):
    """Run only when asked (`jobsys run`, the API, the client)."""

    type: Literal["manual"] = "manual"


class CronTrigger(Strict):
    """Run on a cron schedule in an IANA timezone (becomes a Schedule)."""

    type: Literal["cron"]
    cron: str
    timezone: str = "UTC"


Trigger = Annotated[ManualTrigger | CronTrigger, Field(discriminator="type")]


class JobCallback(Strict):
    """Run a job type with a summary of the run as its inputs (merged into ``with``)."""

    type: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")


class HttpCallback(Strict):
    """POST a JSON summary of the run to a URL."""

    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)


Callback = JobCallback | HttpCallback


class Callbacks(Strict):
    """What to do when a run ends."""

    on_success: list[Callback] = Field(default_factory=list, alias="onSuccess")
    on_failure: list[Callback] = Field(default_factory=list, alias="onFailure")
    always: list[Callback] = Field(default_factory=list)


class Step(Strict):
    """One node of the DAG: a registered job type with its inputs."""

    name: str = Field(pattern=_STEP_NAME, max_length=100)
    type: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    next: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list, alias="dependsOn")
    for_each: str | list[Any] | None = Field(default=None, alias="forEach")
    retries: int | None = Field(default=None, ge=0, le=100)
    timeout: float | None = Field(default=None, gt=0)
    continue_on_failure: bool = Field(default=False, alias="continueOnFailure")
    trigger_rule: TriggerRule = Field(default=TriggerRule.ALL_SUCCESS, alias="triggerRule")
    branch: bool = Field(
        default=False,
        description="The step's output field `next` names which successors run; "
        "the others end SKIPPED.",
    )

    @field_validator("next", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Manifest(Strict):
    """A ``kind: Job`` document."""

    schema_: str | None = Field(default=None, alias="$schema")
    api_version: Literal["jobsys/v1"] = Field(alias="apiVersion")
    kind: Literal["Job"]
    metadata: Metadata
    trigger: Trigger = Field(default_factory=ManualTrigger)
    callbacks: Callbacks = Field(default_factory=Callbacks)
    params: dict[str, Any] = Field(
        default_factory=dict, description="Run parameters and their defaults (${{ params.x }})."
    )
    steps: list[Step] = Field(min_length=1)

    def edges(self) -> list[tuple[str, str]]:
        """Every (upstream, downstream) edge, from ``next`` and ``dependsOn``, in file order."""
        out: list[tuple[str, str]] = []
        for step in self.steps:
            out += [(step.name, n) for n in step.next]
            out += [(d, step.name) for d in step.depends_on]
        return out


def json_schema() -> dict[str, Any]:
    """The JSON Schema of manifest v1 (`jobsys schema`)."""
    schema = Manifest.model_json_schema(by_alias=True)
    schema["$id"] = SCHEMA_ID
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "jobsys manifest v1"
    return schema
