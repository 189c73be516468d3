"""Alembic environment: runs against the engine jobsys passes in (``jobsys db upgrade``)."""

from __future__ import annotations

from alembic import context

from jobsys.store.models import Base

config = context.config
engine = config.attributes["connection_engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
