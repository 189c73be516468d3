"""``Runtime``: settings + job-type registry + store engine + Celery app, built lazily.

One per process role (a client, a worker). The database engine is re-created
after a fork, so prefork worker children never share a parent's connections.
"""

from __future__ import annotations

import os
import socket
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from jobsys.jobtypes import JobTypeRegistry, discover
from jobsys.settings import Settings
from jobsys.store.session import ensure_schema, make_engine

if TYPE_CHECKING:
    from celery import Celery


class Runtime:
    """What every part of jobsys needs, created once and passed down."""

    def __init__(self, settings: Settings, registry: JobTypeRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry if registry is not None else discover(settings.jobtype_modules)
        self._engine: Engine | None = None
        self._engine_pid = 0
        self._schema_checked = False
        # Resolved once: the runner needs them on every attempt.
        self.staging_root = settings.staging_root
        self.outputs_root = settings.outputs_root
        self.logs_root = settings.logs_root
        self.path_roots = settings.path_roots
        self._autocommit: Engine | None = None
        self._autocommit_of: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The store engine of this process (checked/upgraded on first use)."""
        if self._engine is None or self._engine_pid != os.getpid():
            if self._engine is not None:
                self._engine.dispose(close=False)
            self._engine = make_engine(self.settings)
            self._engine_pid = os.getpid()
            if not self._schema_checked:
                ensure_schema(self._engine, self.settings)
                self._schema_checked = True
        return self._engine

    @property
    def autocommit(self) -> Engine:
        """The same engine and pool, each statement committed on its own (single round trips)."""
        engine = self.engine
        if self._autocommit is None or self._autocommit_of is not engine:
            self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
            self._autocommit_of = engine
        return self._autocommit

    @cached_property
    def app(self) -> Celery:
        """The Celery app with one task per job type."""
        from jobsys.celery import create_celery

        return create_celery(self)

    def worker_id(self, node: str | None = None) -> str:
        """``node:pid`` of this process (the Celery node name, else the host name)."""
        return f"{node or socket.gethostname()}:{os.getpid()}"

    def close(self) -> None:
        """Release connections (the store's, the broker's, the result backend's)."""
        app = self.__dict__.get("app")
        if app is not None:
            from jobsys.celery import close_app

            close_app(app)
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
