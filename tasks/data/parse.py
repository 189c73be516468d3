"""``data.parse`` (``data.parse@1``): one file → typed tables, through a named, versioned parser.

The core invariant: one file, one job. Rows are written as Parquet per table (or one
SQLite file with the ``sqlite`` sink) with lineage columns (``_cf_job_id``,
``_cf_source_file``, ``_cf_source_line``), under ``.staging/<job_id>/`` and published
by one rename. Rows breaking the contract go to ``_quarantine.parquet`` with the
reason and source line, and the job ends COMPLETED_WITH_WARNINGS, unless the
contract's policy says that much quarantine fails the file. ``_lineage.json`` says
which file, parser and context datasets made the outputs.

Schema governance (``schema_policy``): ``no_drift`` (default) fails when a table's
declared contract differs from the one approved through ``data.schema``;
``approved`` also fails when none is approved; ``off`` does not look.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from jobsys import FatalJobError, JobContext, SourcePath, job_type
from tasks.data import catalog, contracts
from tasks.data._common import (
    DATA_INVARIANTS,
    QUARANTINE_SCHEMA,
    ParquetSink,
    SqliteSink,
    Throttle,
    constant,
    prefetched,
    with_lineage,
)
from tasks.data.contracts import TableContract
from tasks.data.parsers import ParseOptions, Parser, ParserError, Piece, Rejected, Rows, get

QUARANTINE = "_quarantine.parquet"
LINEAGE = "_lineage.json"
SQLITE_FILE = "tables.sqlite"
QUARANTINE_BATCH = 10_000


class ContextRef(BaseModel):
    """A materialized dataset a PARSE reads as read-only context (latest version unless pinned)."""

    name: str = Field(min_length=1)
    version: int | None = Field(default=None, ge=1)


class ParseInput(BaseModel):
    """One file and how to parse it."""

    path: SourcePath = Field(min_length=1)
    parser: str = Field(min_length=1)
    parser_version: str | None = None
    #: the table's contract, for the csv and jsonl parsers
    contract: TableContract | None = None
    encoding: str = "utf-8"
    sink: Literal["parquet", "sqlite"] = "parquet"
    schema_policy: Literal["off", "no_drift", "approved"] = "no_drift"
    context: list[ContextRef] = Field(default_factory=list)
    catalog: SourcePath | None = None
    batch_rows: int = Field(default=65_536, ge=1, le=10_000_000)
    #: write at most this many rows a second (spare a shared sink); None: as fast as it goes
    max_rows_per_second: int | None = Field(default=None, ge=1)


class TableFile(BaseModel):
    """One written table."""

    table: str
    path: str
    rows: int
    bytes: int


class ParseOutput(BaseModel):
    """What one file became."""

    source_file: str
    parser: str
    parser_version: str
    job_id: str
    output_dir: str
    tables: list[TableFile]
    rows: int
    quarantined: int
    quarantine_path: str | None = None
    first_quarantine: str | None = None
    context: list[dict[str, object]] = Field(default_factory=list)


@dataclass
class Tally:
    """Rows and rejections of one file, as a parser yields them."""

    rows: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    quarantined: int = 0
    first: Rejected | None = None

    def reject(self, piece: Rejected) -> None:
        """Count a rejected row (keeping the first)."""
        self.quarantined += 1
        self.first = self.first or piece

    @property
    def total_rows(self) -> int:
        """Rows accepted, over all tables."""
        return sum(self.rows.values())


def guarded(parser: Parser, path: Path, options: ParseOptions) -> Iterator[Piece]:
    """The parser's pieces; anything it raises becomes a ``ParserError`` naming the file."""
    try:
        yield from parser.parse(path, options)
    except ParserError:
        raise
    except Exception as exc:
        raise ParserError(
            f"{path.name}: parser {parser.name} {parser.version} raised {type(exc).__name__}: {exc}"
        ) from exc


def policy_violation(tables: dict[str, TableContract], tally: Tally) -> str | None:
    """Why the quarantined rows fail the file under the contracts' policies, or None."""
    if not tally.quarantined:
        return None
    first = tally.first
    where = f" (first: line {first.line}: {first.reason})" if first else ""
    total = tally.total_rows + tally.quarantined
    ratio = tally.quarantined / total
    for contract in tables.values():
        policy = contract.policy
        if policy.fail_on_any or ratio > policy.max_ratio:
            limit = "none allowed" if policy.fail_on_any else f"at most {policy.max_ratio:.0%}"
            return (
                f"{tally.quarantined} of {total} rows quarantined ({ratio:.1%}; "
                f"table {contract.table}'s policy: {limit}){where}"
            )
    return None


def check_schema(
    conn: sqlite3.Connection, parser: Parser, tables: dict[str, TableContract], policy: str
) -> None:
    """Fail when a declared contract drifted from the approved one (or none is, if required)."""
    if policy == "off":
        return
    for name, declared in tables.items():
        approved = catalog.approved_contract(conn, parser.name, name)
        if approved is None:
            if policy == "approved":
                raise FatalJobError(
                    f"no approved contract for {parser.name}.{name}: "
                    "approve it with data.schema (action: approve)"
                )
            continue
        if approved["fingerprint"] != declared.fingerprint():
            was = TableContract.model_validate(approved["contract"])
            changes = "; ".join(contracts.diff(was, declared))
            raise FatalJobError(
                f"schema drift: {parser.name} {parser.version} table {name} differs from the "
                f"contract approved by {approved['by']} at {approved['at']}: {changes}"
            )


def load_context(
    conn: sqlite3.Connection, refs: list[ContextRef]
) -> tuple[dict[str, pa.Table], list[dict[str, object]]]:
    """The context datasets (read-only Arrow tables) and what was read, for lineage."""
    from tasks.data.materialize import DATA_FILE, open_dataset

    tables: dict[str, pa.Table] = {}
    used: list[dict[str, object]] = []
    for ref in refs:
        found = open_dataset(conn, ref.name, ref.version)
        tables[ref.name] = pq.read_table(Path(found.path) / DATA_FILE)
        used.append({"name": ref.name, "version": found.version, "path": found.path})
    return tables, used


@job_type(
    "data.parse",
    capability="data.parse@1",
    invariants=DATA_INVARIANTS,
    engines=["pyarrow"],
)
def parse(inputs: ParseInput, ctx: JobContext) -> ParseOutput:
    """Parse one file into typed tables with lineage; quarantine rows that break the contract."""
    source = Path(inputs.path)
    parser = get(inputs.parser, inputs.parser_version)
    with catalog.connect(inputs.catalog, ctx) as conn:
        context, used = load_context(conn, inputs.context)
        options = ParseOptions(inputs.contract, inputs.encoding, inputs.batch_rows, context)
        tables = parser.contracts(options)
        check_schema(conn, parser, tables, inputs.schema_policy)
    try:
        result = _write(inputs, ctx, parser, options, tables, source)
    except FatalJobError as exc:
        _record(inputs, ctx, parser, source, ok=False, rows=0, quarantined=0, error=str(exc))
        raise
    _record(
        inputs,
        ctx,
        parser,
        source,
        ok=True,
        rows=result.rows,
        quarantined=result.quarantined,
        error=result.first_quarantine,
    )
    return result.model_copy(update={"context": used})


def _record(
    inputs: ParseInput,
    ctx: JobContext,
    parser: Parser,
    source: Path,
    *,
    ok: bool,
    rows: int,
    quarantined: int,
    error: str | None,
) -> None:
    with catalog.connect(inputs.catalog, ctx) as conn:
        catalog.record_parse(
            conn,
            path=str(source.resolve()),
            parser=parser.name,
            parser_version=parser.version,
            job_id=ctx.job_id,
            ok=int(ok),
            rows=rows,
            quarantined=quarantined,
            error=error,
        )


def _write(  # noqa: C901 - one loop over the parser's pieces
    inputs: ParseInput,
    ctx: JobContext,
    parser: Parser,
    options: ParseOptions,
    tables: dict[str, TableContract],
    source: Path,
) -> ParseOutput:
    if source.is_dir():
        raise ParserError(f"{source}: a folder, not a file (PARSE takes one file per job)")
    if not source.is_file():
        raise ParserError(f"{source}: no such file")
    name = str(source.resolve())
    sinks: dict[str, ParquetSink | SqliteSink] = {}
    for table, contract in tables.items():
        schema = contract.output_schema()
        sinks[table] = (
            ParquetSink(ctx, f"{table}.parquet", table, schema)
            if inputs.sink == "parquet"
            else SqliteSink(ctx, SQLITE_FILE, table, schema)
        )
    quarantine: ParquetSink | None = None
    tally, throttle = Tally(), Throttle(inputs.max_rows_per_second)

    def flush_rejected() -> None:
        nonlocal quarantine
        if not tally.rejected:
            return
        if quarantine is None:
            quarantine = ParquetSink(ctx, QUARANTINE, "quarantine", QUARANTINE_SCHEMA)
        rows = tally.rejected
        n = len(rows)
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array([r.table for r in rows], pa.string()),
                pa.array([r.line for r in rows], pa.int64()),
                pa.array([r.reason for r in rows], pa.string()),
                pa.array([r.raw for r in rows], pa.string()),
                constant(ctx.job_id, n),
                constant(name, n),
            ],
            schema=QUARANTINE_SCHEMA,
        )
        quarantine.write(batch)
        tally.rejected = []

    try:
        for piece in prefetched(guarded(parser, source, options)):
            if isinstance(piece, Rows):
                sink = sinks.get(piece.table)
                if sink is None:
                    raise ParserError(f"parser {parser.name} wrote undeclared table {piece.table}")
                sink.write(with_lineage(piece.batch, ctx.job_id, name, piece.lines))
                tally.rows[piece.table] = tally.rows.get(piece.table, 0) + piece.batch.num_rows
                throttle.wrote(piece.batch.num_rows)
            else:
                tally.reject(piece)
                tally.rejected.append(piece)
                if len(tally.rejected) >= QUARANTINE_BATCH:
                    flush_rejected()
            ctx.progress.update(tally.total_rows, None, tally.quarantined)
        flush_rejected()
    finally:
        sizes = {table: sink.close() for table, sink in sinks.items()}
        q_size = quarantine.close() if quarantine is not None else 0
    problem = policy_violation(tables, tally)
    if problem:
        raise FatalJobError(f"{source.name}: {problem}")
    first = tally.first
    first_text = f"line {first.line}: {first.reason}" if first else None
    if tally.quarantined:
        ctx.warn(f"{source.name}: {tally.quarantined} rows quarantined (first: {first_text})")
    stat = source.stat()
    lineage = {
        "job_id": ctx.job_id,
        "source_file": name,
        "source_size": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
        "parser": parser.name,
        "parser_version": parser.version,
        "tables": {t: tally.rows.get(t, 0) for t in tables},
        "quarantined": tally.quarantined,
        "context": [r.model_dump() for r in inputs.context],
    }
    (ctx.staging_dir / LINEAGE).write_text(json.dumps(lineage, indent=2) + "\n")
    return ParseOutput(
        source_file=name,
        parser=parser.name,
        parser_version=parser.version,
        job_id=ctx.job_id,
        output_dir=str(ctx.output_dir),
        tables=[
            TableFile(
                table=t,
                path=str(
                    ctx.output_dir / (f"{t}.parquet" if inputs.sink == "parquet" else SQLITE_FILE)
                ),
                rows=tally.rows.get(t, 0),
                bytes=sizes[t],
            )
            for t in tables
        ],
        rows=tally.total_rows,
        quarantined=tally.quarantined,
        quarantine_path=str(ctx.output_dir / QUARANTINE) if q_size else None,
        first_quarantine=first_text,
    )
