"""The ``jobsys`` command: sub-commands registered here, and the one error boundary.

A ``JobsysError`` becomes one line on stderr and its class's exit code; no traceback.
"""

from __future__ import annotations

import sys

import typer

from jobsys.cli import (
    api,
    cluster,
    db,
    demo,
    flower,
    health,
    history,
    jobs,
    manifests,
    runs,
    schedules,
    sync,
    templates,
    ui,
    worker,
)
from jobsys.errors import JobsysError

app = typer.Typer(
    name="jobsys",
    help="jobsys: typed jobs on capability queues, with a history of every attempt.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo")(demo.demo)
app.command("worker")(worker.worker)
app.command("beat")(schedules.beat)
app.command("submit")(jobs.submit)
app.command("capabilities")(jobs.capabilities)
app.command("types")(jobs.types)
app.command("schema")(manifests.schema)
app.command("lint")(manifests.lint_cmd)
app.command("apply")(templates.apply)
app.command("diff")(templates.diff)
app.command("run")(runs.run)
app.command("dag")(runs.dag)
app.command("ui")(ui.ui)
app.command("flower")(flower.flower)
app.add_typer(jobs.app, name="jobs")
app.add_typer(runs.app, name="runs")
app.add_typer(db.app, name="db")
app.add_typer(templates.app, name="templates")
app.add_typer(sync.app, name="sync")
app.add_typer(api.app, name="api")
app.add_typer(schedules.app, name="schedules")
app.add_typer(cluster.app, name="cluster")
app.add_typer(health.app, name="health")
app.add_typer(history.app, name="history")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``jobsys`` console script."""
    try:
        # Without standalone mode, click returns the code of a `typer.Exit` instead of exiting.
        code = app(args=argv, standalone_mode=False)
    except JobsysError as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        sys.exit(type(exc).exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # usage errors: click's, or the click that typer vendors
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
