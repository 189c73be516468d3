"""``jobsys apply``, ``jobsys diff``, ``jobsys templates list|show|archive``: thin over Client."""

from __future__ import annotations

import sys
from typing import Any

import typer

from jobsys.cli import render
from jobsys.client import Client
from jobsys.workflows.apply import VERBS, Action, ApplyReport, Change

app = typer.Typer(help="Stored job templates (from manifests or created by the client).")

FILES = typer.Option(
    ..., "-f", "--filename", help="A manifest file, a directory (**/*.job.yaml) or - for stdin."
)
FORCE = typer.Option(False, "--force", help="Take over templates another source owns.")
PRUNE = typer.Option(
    False, "--prune", help="Archive templates this source applied before and no longer defines."
)


def _read(files: list[str]) -> tuple[list[str], str | None]:
    paths = [f for f in files if f != "-"]
    text = sys.stdin.read() if "-" in files else None
    return paths, text


def _line(change: Change) -> str:
    where = f" ({change.where})" if change.where else ""
    note = ""
    if change.action is Action.CONFLICT:
        note = f": owned by {change.owner} (--force takes it over)"
    return f"{change.verb} {change.name}{where}{note}"


def print_changes(changes: tuple[Change, ...] | list[Change]) -> None:
    """One line per change, then its problems indented, as lint prints them."""
    for change in changes:
        typer.echo(_line(change))
        for problem in change.problems:
            typer.echo(f"  {problem}")


def apply(
    files: list[str] = FILES,
    force: bool = FORCE,
    prune: bool = PRUNE,
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would change; write nothing."),
) -> None:
    """Store manifests as templates, a line per document; exit 1 if one is invalid or conflicts."""
    paths, text = _read(files)
    with Client() as client:
        report: ApplyReport = client.apply(
            paths, text=text, force=force, prune=prune, dry_run=dry_run
        )
    print_changes(report.changes)
    counts = ", ".join(f"{report.count(a)} {VERBS[a]}" for a in Action if report.count(a))
    suffix = " (dry run: nothing written)" if dry_run else ""
    typer.echo(f"{len(report.changes)} template(s): {counts or 'nothing to do'}{suffix}", err=True)
    if not report.ok:
        raise typer.Exit(1)


def diff(
    files: list[str] = FILES,
    force: bool = FORCE,
    prune: bool = PRUNE,
    exit_code: bool = typer.Option(
        False, "--exit-code", help="Exit 1 when apply would change something (like git diff)."
    ),
) -> None:
    """Show what apply would change: a unified diff of each template's definition."""
    paths, text = _read(files)
    with Client() as client:
        changes = client.diff(paths, text=text, force=force, prune=prune)
    for change in changes:
        if change.action in (Action.INVALID, Action.CONFLICT, Action.PROTECTED):
            print_changes([change])
        elif change.diff:
            typer.echo(change.diff, nl=False)
        elif change.action is Action.UPDATE:
            typer.echo(f"# {change.name}: definition unchanged, provenance taken over")
    pending = any(c.action in (Action.CREATE, Action.UPDATE, Action.DELETE) for c in changes)
    broken = any(c.action in (Action.INVALID, Action.CONFLICT) for c in changes)
    if broken or (exit_code and pending):
        raise typer.Exit(1)


def _summary(row: Any) -> dict[str, Any]:
    data = render.row_dict(row)
    prov = data.get("provenance") or {}
    path = prov.get("path")
    if path and prov.get("kind") == "file":
        path = render.short_path(str(path))
    data["source"] = path or data.get("source_id")
    return data


@app.command("list")
def list_cmd(
    all_: bool = typer.Option(False, "--all", help="Include archived (soft-deleted) templates."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Stored templates by name."""
    with Client() as client:
        rows = [_summary(r) for r in client.templates(include_deleted=all_)]
    if as_json:
        render.as_json(rows)
        return
    render.table(
        "templates",
        ["name", "status", "job type", "steps", "updated", "source"],
        [
            (
                r["name"],
                render.status(r["status"]),
                r["job_type"] or "-",
                len((r["definition"] or {}).get("steps", [])) or "-",
                render.ago(r["updated_at"]),
                r["source"],
            )
            for r in rows
        ],
    )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Template name or id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One template: its definition, defaults, labels and provenance."""
    with Client() as client:
        row = render.row_dict(client.template(name))
    if as_json:
        render.as_json(row)
        return
    import yaml

    for key in ("name", "id", "status", "job_type", "description", "source_id", "content_hash"):
        typer.echo(f"{key}: {row[key] if row[key] not in (None, '') else '-'}")
    for key in ("created_at", "updated_at", "deleted_at"):
        typer.echo(f"{key}: {render.when(row[key])}")
    for key in ("labels", "annotations", "default_params", "provenance", "definition"):
        if row[key]:
            body = yaml.safe_dump(row[key], sort_keys=True, default_flow_style=False)
            typer.echo(f"{key}:\n" + "".join(f"  {line}\n" for line in body.splitlines()), nl=False)


@app.command("archive")
def archive(name: str = typer.Argument(..., help="Template name or id.")) -> None:
    """Archive (soft-delete) a template: kept for history, not for new jobs."""
    with Client() as client:
        row = client.archive_template(name)
    typer.echo(f"archived {row.name}")
