"""Helpers for testing with jobsys: jobsys's own tests use them, and so can yours.

- ``wait_until(predicate, timeout)``: poll until something is true; never ``sleep`` and hope.
- ``worker_process(env, capabilities)``: a real ``jobsys worker`` process serving the
  given capabilities, ready when it answers a Celery ping, stopped on exit. The
  ``WorkerProcess`` it yields has ``stop()`` (SIGTERM, then SIGKILL) and ``kill()``
  (SIGKILL to the whole process group: the parent and its pool children).
- ``BeatProcess(env, log_dir=...)``: a real ``jobsys beat`` process (``wait_ready()``,
  ``stop()``, ``kill()``).
- ``settings_from_env(env)``: the ``Settings`` a process started with ``env`` reads.
- ``make_context(tmp_path)``: a ``JobContext`` for calling a job type as a plain function.
- ``postgres_database(name)``: a fresh, migrated PostgreSQL database, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar, get_origin

from jobsys.context import JobContext
from jobsys.settings import Settings

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Return the predicate's first truthy value; ``AssertionError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {message}")
        time.sleep(interval)


def make_context(tmp_path: Path, job_type: str = "test.job", attempt: int = 1) -> JobContext:
    """A context whose staging and log live under ``tmp_path``."""
    job_id = str(uuid.uuid4())
    return JobContext(
        job_id=job_id,
        job_type=job_type,
        attempt=attempt,
        staging_path=tmp_path / ".staging" / job_id,
        log_path=tmp_path / "logs" / f"{job_id}.log",
    )


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """The ``Settings`` a process started with ``env``'s ``JOBSYS_*`` variables would read."""
    fields = {f"JOBSYS_{name.upper()}": name for name in Settings.model_fields}
    # A list setting comes from the environment as JSON, as pydantic-settings reads it.
    lists = {n for n, f in Settings.model_fields.items() if get_origin(f.annotation) is list}
    values: dict[str, Any] = {
        fields[k]: json.loads(v) if fields[k] in lists else v for k, v in env.items() if k in fields
    }
    return Settings(**values)


@contextmanager
def postgres_database(
    name: str, admin_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
) -> Iterator[str]:
    """Create database ``name`` (dropping an old one), migrate it, yield its URL, drop it."""
    import psycopg

    from jobsys.store.session import make_engine, upgrade

    def drop(conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    with psycopg.connect(admin_url, autocommit=True) as conn:
        drop(conn)
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    settings = Settings(database_url=url)
    engine = make_engine(settings)
    upgrade(engine, settings)
    engine.dispose()
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            drop(conn)


class _ProcessGroup:
    """A subprocess in its own process group, logging to ``log_path``."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        """The main process id."""
        return self.proc.pid

    def alive(self) -> bool:
        """Whether the main process is still running."""
        return self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the process's output."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (warm shutdown), then SIGKILL if it lingers."""
        if self.alive():
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._signal(signal.SIGKILL)  # any pool child left behind

    def kill(self) -> None:
        """SIGKILL the whole process group at once: a crashed machine, as far as jobs can tell."""
        self._signal(signal.SIGKILL)
        self.proc.wait(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _signal(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass


class WorkerProcess(_ProcessGroup):
    """A ``jobsys worker`` subprocess in its own process group."""

    def __init__(
        self,
        env: Mapping[str, str],
        capabilities: Sequence[str],
        *,
        concurrency: int = 1,
        name: str | None = None,
        log_dir: Path,
        pool: str = "prefork",
        loglevel: str = "INFO",
    ) -> None:
        self.name = name or f"jobsys-test-{uuid.uuid4().hex[:8]}@localhost"
        self.capabilities = list(capabilities)
        self.log_path = log_dir / f"{self.name.split('@')[0]}.log"
        self.settings = settings_from_env(env)
        self.env = {**os.environ, **env}
        args = [sys.executable, "-m", "jobsys", "worker", "--name", self.name]
        args += ["--concurrency", str(concurrency), "--pool", pool, "--loglevel", loglevel]
        for cap in capabilities:
            args += ["--capability", cap]
        log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                args, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(
        self, ping: Callable[[str], bool] | None = None, timeout: float = 60.0
    ) -> WorkerProcess:
        """Wait until the worker answers a Celery ping; fail with the log tail if it exits.

        ``ping(name)`` replaces the default, a ping through a ``Runtime`` of the worker's
        settings (pass one to reuse a client's connection).
        """

        def ready(ping: Callable[[str], bool]) -> bool:
            if not self.alive():
                raise AssertionError(
                    f"worker {self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            return ping(self.name)

        message = f"worker {self.name} to answer a ping"
        if ping is not None:
            wait_until(lambda: ready(ping), timeout, 0.2, message)
            return self
        from jobsys.runtime import Runtime

        app = Runtime(self.settings).app
        try:
            wait_until(
                lambda: ready(lambda name: bool(app.control.ping([name], timeout=0.5))),
                timeout,
                0.2,
                message,
            )
        finally:
            app.close()
        return self


@contextmanager
def worker_process(
    env: Mapping[str, str],
    capabilities: Sequence[str],
    *,
    concurrency: int = 1,
    name: str | None = None,
    log_dir: Path,
    timeout: float = 60.0,
) -> Iterator[WorkerProcess]:
    """A ready ``jobsys worker`` serving ``capabilities`` with the ``JOBSYS_*`` settings in
    ``env``; stopped (SIGTERM, then SIGKILL) when the block ends.

    ``with worker_process(env, ["demo.basic@1"], log_dir=tmp_path) as worker: ...``
    """
    worker = WorkerProcess(env, capabilities, concurrency=concurrency, name=name, log_dir=log_dir)
    with worker:
        yield worker.wait_ready(timeout=timeout)


class BeatProcess(_ProcessGroup):
    """A ``jobsys beat`` subprocess in its own process group; ready once it loaded schedules."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        log_dir: Path,
        name: str | None = None,
        loglevel: str = "INFO",
    ) -> None:
        self.name = name or f"beat-{uuid.uuid4().hex[:8]}"
        self.log_path = log_dir / f"{self.name}.log"
        args = [sys.executable, "-m", "jobsys", "beat", "--loglevel", loglevel]
        log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                args,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> BeatProcess:
        """Wait until beat has loaded the schedules; fail with the log tail if it exits."""

        def ready() -> bool:
            if not self.alive():
                raise AssertionError(
                    f"beat {self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            return self.log_path.exists() and "schedule(s) to fire" in self.log_path.read_text(
                errors="replace"
            )

        wait_until(ready, timeout, 0.1, f"beat {self.name} to load its schedules")
        return self
