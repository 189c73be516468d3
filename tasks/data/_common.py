"""What the data job types share: invariants, throttling, hashing, and table writers
that record sink figures (rows, bytes, write latency) as they write."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from jobsys import Invariant, JobContext
from tasks.data.contracts import JOB_ID, SOURCE_FILE, SOURCE_LINE

ATOMIC = Invariant(
    "atomic_output",
    "outputs are written under .staging/<job_id>/ and published by one rename: "
    "a crash or a failure leaves nothing in the final location",
)
READ_ONLY_INPUTS = Invariant(
    "read_only_inputs", "source files are only ever opened for reading, never moved or changed"
)
DATA_INVARIANTS = [ATOMIC, READ_ONLY_INPUTS]

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("table", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("reason", pa.string()),
        pa.field("raw", pa.string()),
        pa.field(JOB_ID, pa.string(), nullable=False),
        pa.field(SOURCE_FILE, pa.string(), nullable=False),
    ]
)


class Throttle:
    """Keeps a writer under ``rows_per_second`` (None: no limit), sleeping between batches."""

    def __init__(self, rows_per_second: int | None) -> None:
        self.rate, self.start, self.rows = rows_per_second, time.monotonic(), 0

    def wrote(self, rows: int) -> None:
        """Account for ``rows`` written; sleep if ahead of the rate."""
        if not self.rate:
            return
        self.rows += rows
        ahead = self.rows / self.rate - (time.monotonic() - self.start)
        if ahead > 0:
            time.sleep(ahead)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def with_lineage(
    batch: pa.RecordBatch, job_id: str, source: str, lines: pa.Array
) -> pa.RecordBatch:
    """``batch`` with the lineage columns appended."""
    n = batch.num_rows
    arrays = [*batch.columns, pa.repeat(job_id, n), pa.repeat(source, n), lines]
    fields = [
        *batch.schema,
        pa.field(JOB_ID, pa.string(), nullable=False),
        pa.field(SOURCE_FILE, pa.string(), nullable=False),
        pa.field(SOURCE_LINE, pa.int64()),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


class ParquetSink:
    """One Parquet file in staging; each write is timed and reported to ``ctx.metrics``."""

    def __init__(self, ctx: JobContext, name: str, output: str, schema: pa.Schema) -> None:
        self.ctx, self.name, self.output = ctx, name, output
        self.path = ctx.staging_dir / name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.uri = str(ctx.output_dir / name)
        self.rows = 0
        self._writer = pq.ParquetWriter(self.path, schema, compression="zstd")

    def write(self, batch: pa.RecordBatch) -> None:
        """Append a batch (its schema must be the file's)."""
        start = time.perf_counter()
        self._writer.write_batch(batch)
        latency = (time.perf_counter() - start) * 1000
        self.rows += batch.num_rows
        self.ctx.metrics.sink(self.uri, self.output, batch.num_rows, batch.nbytes, latency)

    def close(self) -> int:
        """Finish the file; its size in bytes."""
        self._writer.close()
        return self.path.stat().st_size


_SQLITE_TYPES = {"int": "INTEGER", "uint": "INTEGER", "bool": "INTEGER", "float": "REAL"}
_SQLITE_TYPES.update({"double": "REAL", "halffloat": "REAL"})


def _sqlite_type(arrow: pa.DataType) -> str:
    text = str(arrow)
    for prefix, name in _SQLITE_TYPES.items():
        if text.startswith(prefix):
            return name
    return "TEXT"


class SqliteSink:
    """One table in a SQLite file in staging (the ``sqlite`` sink option)."""

    def __init__(self, ctx: JobContext, file: str, table: str, schema: pa.Schema) -> None:
        self.ctx, self.table, self.output = ctx, table, table
        self.path = ctx.staging_dir / file
        self.uri = f"sqlite://{ctx.output_dir / file}#{table}"
        self.rows = 0
        self._conn = sqlite3.connect(self.path)
        cols = ", ".join(f'"{f.name}" {_sqlite_type(f.type)}' for f in schema)
        self._conn.execute(f'CREATE TABLE "{table}" ({cols})')
        marks = ", ".join("?" for _ in schema)
        self._insert = f'INSERT INTO "{table}" VALUES ({marks})'

    def write(self, batch: pa.RecordBatch) -> None:
        """Insert a batch's rows (timestamps and dates as ISO text)."""
        start = time.perf_counter()
        columns = [_plain(c.to_pylist()) for c in batch.columns]
        self._conn.executemany(self._insert, zip(*columns, strict=True))
        self._conn.commit()
        latency = (time.perf_counter() - start) * 1000
        self.rows += batch.num_rows
        self.ctx.metrics.sink(self.uri, self.output, batch.num_rows, batch.nbytes, latency)

    def close(self) -> int:
        """Close the database; the file's size in bytes."""
        self._conn.close()
        return self.path.stat().st_size


def _plain(values: list[Any]) -> list[Any]:
    return [v.isoformat() if hasattr(v, "isoformat") else v for v in values]
