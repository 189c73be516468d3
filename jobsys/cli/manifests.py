"""``jobsys schema`` (manifest v1's JSON Schema) and ``jobsys lint`` (every problem, located)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from jobsys.jobtypes import discover
from jobsys.settings import load_settings
from jobsys.workflows.callback_hosts import HostPolicy
from jobsys.workflows.lint import lint
from jobsys.workflows.loader import Document, load_paths, load_text
from jobsys.workflows.manifest import json_schema


def schema() -> None:
    """Print the JSON Schema of manifest v1 (generated from the models)."""
    print(json.dumps(json_schema(), indent=2, sort_keys=True))


def lint_cmd(
    paths: list[Path] = typer.Argument(..., help="Files, directories (**/*.job.yaml) or -."),
    check_secrets: bool = typer.Option(
        False, "--check-secrets", help="Resolve secret references (values are never printed)."
    ),
) -> None:
    """Report every problem with file:line:col and a rule id; exit 1 if there is any."""
    settings = load_settings()
    registry = discover(settings.jobtype_modules)
    hosts = HostPolicy(settings.callback_allowed_hosts)
    docs: list[Document] = []
    for path in paths:
        if str(path) == "-":
            docs += load_text(sys.stdin.read(), "<stdin>")
        elif not path.exists():
            typer.echo(f"{path}:1:1: read: no such file or directory", err=True)
            raise typer.Exit(1)
        else:
            docs += load_paths([path])
    problems = [
        p for doc in docs for p in lint(doc, registry, check_secrets=check_secrets, hosts=hosts)
    ]
    for problem in problems:
        typer.echo(str(problem))
    typer.echo(f"{len(docs)} document(s), {len(problems)} problem(s)", err=True)
    if problems:
        raise typer.Exit(1)
