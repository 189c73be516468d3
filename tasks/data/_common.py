"""What the data job types share: invariants, throttling, hashing, and table writers
that record sink figures (rows, bytes, write latency) as they write."""

from __future__ import annotations

import hashlib
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from jobsys import Invariant, JobContext
from tasks.data.contracts import JOB_ID, LINEAGE_FIELDS, LINEAGE_TEXT, SOURCE_FILE

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
        pa.field(JOB_ID, LINEAGE_TEXT, nullable=False),
        pa.field(SOURCE_FILE, LINEAGE_TEXT, nullable=False),
    ]
)


T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced by a thread up to ``depth`` ahead of the consumer.

    Reading (pyarrow's CSV reader releases the GIL) overlaps with writing. An exception
    in the producer is raised in the consumer; a consumer that stops early stops the producer.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer
            put(exc)

    thread = threading.Thread(target=produce, name="jobsys-data-reader", daemon=True)
    thread.start()
    try:
        while True:
            value = slots.get()
            if value is _DONE:
                return
            if isinstance(value, BaseException):
                raise value
            yield value
    finally:
        stop.set()
        thread.join()


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


def constant(value: str, n: int) -> pa.DictionaryArray:
    """``n`` times ``value``, dictionary-encoded: the text is stored once."""
    return pa.DictionaryArray.from_arrays(pa.repeat(pa.scalar(0, pa.int32()), n), [value])


def with_lineage(
    batch: pa.RecordBatch, job_id: str, source: str, lines: pa.Array
) -> pa.RecordBatch:
    """``batch`` with the lineage columns appended."""
    n = batch.num_rows
    arrays = [*batch.columns, constant(job_id, n), constant(source, n), lines]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema([*batch.schema, *LINEAGE_FIELDS]))


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
