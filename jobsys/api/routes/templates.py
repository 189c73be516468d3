"""``/v1/templates`` and ``/v1/jobdefs/apply``: stored job definitions and their runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from jobsys.api.deps import ClientDep, WatchDep
from jobsys.api.schemas import (
    ApplyOut,
    CreateTemplate,
    ErrorDetail,
    GroupOut,
    RunTemplate,
    TemplateOut,
)
from jobsys.workflows.apply import Source

router = APIRouter(tags=["templates"])

MANIFEST = Body(
    media_type="application/yaml",
    description="One or more manifest documents (YAML, `---` between documents).",
)


@router.post(
    "/jobdefs/apply",
    summary="Store manifests as templates",
    responses={
        409: {"model": ApplyOut, "description": "A document is owned by another source."},
        422: {"model": ApplyOut, "description": "A document is invalid (the report says where)."},
    },
)
def apply(
    client: ClientDep,
    response: Response,
    manifest: Annotated[str, MANIFEST],
    force: Annotated[bool, Query(description="Take over templates another source owns.")] = False,
    prune: Annotated[
        bool, Query(description="Archive templates this source applied before and no longer has.")
    ] = False,
    dry_run: Annotated[bool, Query(description="Say what would change; write nothing.")] = False,
    source: Annotated[
        str, Query(min_length=1, description="The identity owning what it applies.")
    ] = "api",
) -> ApplyOut:
    """As `jobsys apply`: a change per document; the valid ones are applied even if one is not.

    200 when every document applied; else 422 (a document is invalid) or 409 (one is
    owned by another source), with the same report and an ``error`` saying which.
    """
    report = client.apply(
        text=manifest, source=Source("api", source), force=force, prune=prune, dry_run=dry_run
    )
    body = ApplyOut.model_validate(report.to_dict())
    invalid = [c.name for c in body.changes if c.action == "invalid"]
    conflict = [c.name for c in body.changes if c.action == "conflict"]
    if invalid:
        response.status_code = 422
        body.error = ErrorDetail(type="DefinitionError", message=f"invalid: {', '.join(invalid)}")
    elif conflict:
        response.status_code = 409
        body.error = ErrorDetail(
            type="Conflict",
            message=f"owned by another source (force takes over): {', '.join(conflict)}",
        )
    return body


@router.get("/templates", summary="Stored templates by name")
def list_templates(
    client: ClientDep,
    all_: Annotated[bool, Query(alias="all", description="Include archived templates.")] = False,
) -> list[TemplateOut]:
    """Every active template (and archived ones with ``all=true``)."""
    return [TemplateOut.from_row(r) for r in client.templates(include_deleted=all_)]


@router.post("/templates", status_code=status.HTTP_201_CREATED, summary="Create a template")
def create_template(body: CreateTemplate, client: ClientDep) -> TemplateOut:
    """A single-job-type template; its defaults are validated against the job type."""
    row = client.create_template(
        body.name,
        body.job_type,
        body.default_params,
        description=body.description,
        labels=body.labels,
    )
    return TemplateOut.from_row(row)


@router.get("/templates/{name}", summary="One template")
def show_template(name: str, client: ClientDep) -> TemplateOut:
    """A template by name or id (archived ones too)."""
    return TemplateOut.from_row(client.template(name))


@router.post(
    "/templates/{name}/runs", status_code=status.HTTP_201_CREATED, summary="Run a template"
)
def run_template(name: str, body: RunTemplate, client: ClientDep, watch: WatchDep) -> GroupOut:
    """Start a run (a JobGroup) of the template, ``params`` over its defaults."""
    group_id = client.run_template(name, body.params, priority=body.priority)
    group, jobs = client.group(group_id)
    return GroupOut.from_rows(group, jobs, watch.waiting(jobs))
