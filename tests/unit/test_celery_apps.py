"""Two runtimes in one process (tests, the API server) each get their own Celery tasks."""

from __future__ import annotations

from pathlib import Path

from jobsys.client import Client
from jobsys.settings import Settings


def test_each_app_has_its_own_tasks_bound_to_its_own_runtime(tmp_path: Path) -> None:
    # Celery warns (an error under pytest) when an app inherits a shared task of the same
    # name; an inherited task would run against the first runtime's store.
    with (
        Client(Settings(home=tmp_path / "one")) as one,
        Client(Settings(home=tmp_path / "two")) as two,
    ):
        first, second = one.runtime.app, two.runtime.app
        first.finalize()
        second.finalize()
        for name in ("demo.echo", "jobsys.join_failed"):
            assert first.tasks[name] is not second.tasks[name]
            assert first.tasks[name].app is first and second.tasks[name].app is second
