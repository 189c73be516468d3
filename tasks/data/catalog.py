"""The data catalog: a SQLite database written with the stdlib ``sqlite3`` module.

Job types may not touch the jobsys store (no SQLAlchemy in ``tasks/``), and the
catalog is data about the user's files, not about jobs: so it is its own database,
by default ``<JOBSYS_HOME>/catalog.sqlite`` of the worker (every job type takes a
``catalog`` input to use another: give all workers one shared path). Tables:

- ``scout_sources``, ``scout_folders``, ``scout_files``: what ``data.scan`` found
  (path, size, mtime, optional SHA-256, tags from the source's rules);
- ``parse_history``: each PARSE's result per file (how BACKTEST finds high-failure files);
- ``schema_contracts``: observed and approved contracts per parser table (``data.schema``);
- ``datasets``: versions published by ``data.materialize``.

Selections (``select_files``) are how later jobs pick their inputs: by tag, glob
(gitignore-style, on the path relative to the source root) or a read-only SQL query
whose first column is the path.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pathspec
from pydantic import BaseModel, model_validator

from jobsys import FatalJobError, JobContext

FILE_NAME = "catalog.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS scout_sources (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    rules TEXT NOT NULL DEFAULT '{}',
    last_scan_id INTEGER NOT NULL DEFAULT 0,
    last_scan_at TEXT,
    files INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS scout_folders (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES scout_sources(id),
    path TEXT NOT NULL,
    scan_id INTEGER NOT NULL,
    files INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source_id, path)
);
CREATE TABLE IF NOT EXISTS scout_files (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES scout_sources(id),
    folder_id INTEGER NOT NULL REFERENCES scout_folders(id),
    path TEXT NOT NULL,
    rel_path TEXT NOT NULL,
    name TEXT NOT NULL,
    ext TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    first_seen_at TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    UNIQUE (source_id, rel_path)
);
CREATE INDEX IF NOT EXISTS ix_scout_files_folder ON scout_files(folder_id);
CREATE TABLE IF NOT EXISTS parse_history (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    parser TEXT NOT NULL,
    parser_version TEXT NOT NULL,
    job_id TEXT NOT NULL,
    ok INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    error TEXT,
    line INTEGER,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_parse_history_path ON parse_history(path, parser);
CREATE TABLE IF NOT EXISTS schema_contracts (
    id INTEGER PRIMARY KEY,
    parser TEXT NOT NULL,
    table_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('observed', 'approved')),
    fingerprint TEXT NOT NULL,
    contract TEXT NOT NULL,
    parser_version TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    job_id TEXT
);
CREATE INDEX IF NOT EXISTS ix_schema_contracts ON schema_contracts(parser, table_name, status);
CREATE TABLE IF NOT EXISTS datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    inputs_fingerprint TEXT NOT NULL,
    contract TEXT NOT NULL,
    job_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (name, version)
);
"""


class CatalogError(FatalJobError):
    """The catalog cannot be opened, or a selection is malformed."""


def resolve(path: str | None, ctx: JobContext) -> Path:
    """The catalog's path: ``path``, or ``catalog.sqlite`` in the worker's JOBSYS_HOME."""
    if path:
        return Path(path).expanduser().resolve()
    if ctx.home is None:
        raise CatalogError("no catalog: give catalog= (a path) when calling a job type directly")
    return ctx.home / FILE_NAME


def now() -> str:
    """Now, as ISO 8601 UTC text (the catalog's timestamps)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@contextmanager
def connect(path: str | None, ctx: JobContext) -> Iterator[sqlite3.Connection]:
    """A connection to the catalog (created with its tables on first use), committed on exit."""
    where = resolve(path, ctx)
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(where, timeout=60, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise CatalogError(f"catalog {where}: cannot be opened: {exc}") from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(SCHEMA)
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


class Selection(BaseModel):
    """Catalogued files to work on: by tag, glob, SQL query, or all of one source."""

    source: str | None = None
    tag: str | None = None
    glob: str | None = None
    query: str | None = None

    @model_validator(mode="after")
    def _something(self) -> Selection:
        if not (self.source or self.tag or self.glob or self.query):
            raise ValueError("a selection needs at least one of source, tag, glob, query")
        if self.query is not None and not self.query.lstrip().lower().startswith(
            ("select", "with")
        ):
            raise ValueError("query must be a SELECT whose first column is the file path")
        if self.glob is not None:
            try:
                pathspec.PathSpec.from_lines("gitignore", [self.glob])
            except Exception as exc:  # pathspec's own error, or re.error from a bad [range]
                raise ValueError(
                    f"glob {self.glob!r} is not a gitignore-style pattern: {exc}"
                ) from None
        return self

    def describe(self) -> dict[str, Any]:
        """The criteria, for manifests and reports."""
        return self.model_dump(exclude_none=True)


def select_files(path: str | None, ctx: JobContext, selection: Selection) -> list[str]:
    """Absolute paths of the catalogued files ``selection`` picks, in path order.

    The query runs on a read-only connection; tag, glob and source narrow its result
    (or the whole catalog when there is no query). Every path must lie inside the
    source roots (``ctx.confine``).
    """
    where = resolve(path, ctx)
    if not where.is_file():
        raise CatalogError(f"catalog {where} does not exist: run data.scan first")
    conn = sqlite3.connect(f"file:{where}?mode=ro", uri=True, timeout=60)
    try:
        sql = (
            "SELECT f.path, f.rel_path FROM scout_files f "
            "JOIN scout_sources s ON s.id = f.source_id"
        )
        clauses: list[str] = []
        args: list[Any] = []
        if selection.source:
            clauses.append("s.name = ?")
            args.append(selection.source)
        if selection.tag:
            clauses.append("EXISTS (SELECT 1 FROM json_each(f.tags) WHERE value = ?)")
            args.append(selection.tag)
        if selection.query:
            clauses.append(f"f.path IN (SELECT q.path FROM ({selection.query}) AS q)")
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        try:
            rows = conn.execute(sql + " ORDER BY f.path", args).fetchall()
        except sqlite3.Error as exc:
            raise CatalogError(f"selection {selection.describe()}: {exc}") from exc
    finally:
        conn.close()
    if selection.glob:
        spec = pathspec.PathSpec.from_lines("gitignore", [selection.glob])
        rows = [r for r in rows if spec.match_file(r[1])]
    for row in rows:  # a query can name any path: confined like a path input (PathRefused)
        ctx.confine(row[0], "selection")
    return [r[0] for r in rows]


def high_failure_files(conn: sqlite3.Connection, parser: str, paths: list[str]) -> set[str]:
    """Of ``paths``, those whose latest PARSE with ``parser`` failed or quarantined rows."""
    rows = conn.execute(
        "SELECT h.path, h.ok, h.quarantined FROM parse_history h "
        "WHERE h.parser = ? AND h.id = (SELECT MAX(id) FROM parse_history WHERE path = h.path "
        "AND parser = h.parser)",
        (parser,),
    ).fetchall()
    wanted = set(paths)
    return {p for p, ok, quarantined in rows if p in wanted and (not ok or quarantined)}


def record_parse(conn: sqlite3.Connection, **values: Any) -> None:
    """Append one PARSE result to ``parse_history``."""
    values.setdefault("at", now())
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    conn.execute(f"INSERT INTO parse_history ({names}) VALUES ({marks})", list(values.values()))


def approved_contract(conn: sqlite3.Connection, parser: str, table: str) -> dict[str, Any] | None:
    """The latest approved contract of a parser's table (with who/when), or None."""
    row = conn.execute(
        "SELECT contract, fingerprint, recorded_by, recorded_at FROM schema_contracts "
        "WHERE parser = ? AND table_name = ? AND status = 'approved' ORDER BY id DESC LIMIT 1",
        (parser, table),
    ).fetchone()
    if row is None:
        return None
    return {"contract": json.loads(row[0]), "fingerprint": row[1], "by": row[2], "at": row[3]}
