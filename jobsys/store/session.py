"""Engine factory (SQLite WAL pragmas), schema check/upgrade, and the foreign-error boundary.

SQLAlchemy's connection errors become ``StoreUnavailable`` naming
``JOBSYS_DATABASE_URL``; a missing schema becomes ``SchemaMissing``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, OperationalError, ProgrammingError

from jobsys.errors import SchemaMissing, StoreUnavailable
from jobsys.settings import Settings

SETTING = "JOBSYS_DATABASE_URL"
MIGRATIONS = Path(__file__).parent / "migrations"


def display_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(settings: Settings) -> Engine:
    """An engine for the configured store. No connection is made yet."""
    url = settings.effective_database_url
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_size=5, max_overflow=10)
    except (ValueError, NoSuchModuleError, ImportError) as exc:
        raise StoreUnavailable(
            f"{SETTING}={display_url(url)} is not a usable database URL: {exc}", setting=SETTING
        ) from exc


@contextmanager
def store_errors(settings: Settings) -> Iterator[None]:
    """Map connection-level database errors to ``StoreUnavailable``."""
    try:
        yield
    except (OperationalError, ProgrammingError) as exc:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if "no such table" in text or "does not exist" in text and "relation" in text:
            raise SchemaMissing(
                "the store has no jobsys tables: run `jobsys db upgrade`", setting=SETTING
            ) from exc
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            url = display_url(settings.effective_database_url)
            first = text.strip().splitlines()[0] if text.strip() else type(exc.orig).__name__
            raise StoreUnavailable(
                f"cannot reach the store at {SETTING}={url}: {first}", setting=SETTING
            ) from exc
        raise
    except DBAPIError as exc:
        if exc.connection_invalidated:
            url = display_url(settings.effective_database_url)
            raise StoreUnavailable(f"lost the store at {SETTING}={url}", setting=SETTING) from exc
        raise


def alembic_config(engine: Engine) -> Any:
    """An Alembic config pointing at jobsys's migrations and this engine."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection_engine"] = engine
    return cfg


def upgrade(engine: Engine, settings: Settings, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (``jobsys db upgrade``)."""
    from alembic import command

    with store_errors(settings):
        command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine, settings: Settings) -> None:
    """Upgrade a SQLite store automatically (if allowed); otherwise require the schema."""
    with store_errors(settings):
        if engine.dialect.name == "sqlite" and settings.auto_migrate:
            current = _current_revision(engine)
            if current != _head_revision(engine):
                upgrade(engine, settings)
            return
        if not inspect(engine).has_table("jobs"):
            raise SchemaMissing(
                f"the store at {SETTING}={display_url(settings.effective_database_url)} has no "
                "jobsys schema: run `jobsys db upgrade`",
                setting=SETTING,
            )


def _current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
