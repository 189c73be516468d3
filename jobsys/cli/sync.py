"""``jobsys sync git``: apply the manifests of a Git repository, once or polling."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer

from jobsys.cli.templates import print_changes
from jobsys.client import Client
from jobsys.errors import JobsysError
from jobsys.workflows.loader import DEFAULT_GLOB

if TYPE_CHECKING:
    from jobsys.workflows.gitsync import GitConfig

app = typer.Typer(help="Keep templates in step with a source of manifests.")


@app.command("git")
def git(
    repo: str = typer.Option(..., "--repo", help="Repository URL (https://, ssh://) or path."),
    ref: str = typer.Option("main", "--ref", help="Branch, tag or commit to apply."),
    glob: str = typer.Option(DEFAULT_GLOB, "--glob", help="Manifests to apply (gitignore style)."),
    interval: float | None = typer.Option(
        None, "--interval", min=0.1, help="Poll every S seconds until stopped (Ctrl-C, SIGTERM)."
    ),
    once: bool = typer.Option(False, "--once", help="Sync once and exit (the default)."),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="The working clone (default: <JOBSYS_HOME>/git/<hash of URL>)."
    ),
    token: str | None = typer.Option(
        None, "--token", help="HTTPS token as a secret reference (secret://env/NAME)."
    ),
    username: str | None = typer.Option(
        None, "--username", help="User sent with --token (default: x-access-token)."
    ),
    ssh_key: str | None = typer.Option(
        None, "--ssh-key", help="SSH private key as a secret reference (secret://file/PATH)."
    ),
    ssh_command: str | None = typer.Option(
        None, "--ssh-command", help="The ssh program and options (default: ssh)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Apply even if the commit did not change; take over templates."
    ),
    prune: bool = typer.Option(
        False, "--prune", help="Archive templates this repository no longer defines."
    ),
) -> None:
    """Fetch REPO at REF and apply its manifests when the commit changed; exit 1 on a bad one."""
    if interval is not None and once:
        raise typer.BadParameter("give --interval or --once, not both", param_hint="--interval")
    if "://" not in repo and Path(repo).exists():
        repo = str(Path(repo).resolve())  # a local path: one identity wherever it is run from
    from jobsys.workflows.gitsync import GitConfig, default_workdir  # dulwich: only when syncing

    with Client() as client:
        config = GitConfig(
            repo=repo,
            ref=ref,
            glob=glob,
            workdir=workdir or default_workdir(client.settings.resolved_home, repo),
            token=token,
            ssh_key=ssh_key,
            ssh_command=ssh_command,
            **({"username": username} if username else {}),
        )
        if interval is None:
            if not _sync(client, config, force, prune):
                raise typer.Exit(1)
            return
        _poll(client, config, interval, force, prune)


def _sync(client: Client, config: GitConfig, force: bool, prune: bool) -> bool:
    result = client.sync_git(config, force=force, prune=prune)
    short = result.commit[:12]
    if result.skipped:
        typer.echo(f"{config.repo} {config.ref} at {short}: already applied", err=True)
        return True
    print_changes(result.report.changes)
    typer.echo(f"{config.repo} {config.ref} at {short}: applied", err=True)
    return result.report.ok


def _poll(client: Client, config: GitConfig, interval: float, force: bool, prune: bool) -> None:
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        first = True
        while not stop.is_set():
            try:
                _sync(client, config, force and first, prune)
            except JobsysError as exc:  # keep polling: the next fetch may succeed
                typer.echo(f"error: {exc.format_message()}", err=True)
            first = False
            stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("stopped", err=True)
