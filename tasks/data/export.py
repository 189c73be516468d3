"""``data.export`` (``data.export@1``): parsed outputs → a delivery format, with a manifest.

Reads the Parquet tables PARSE jobs wrote (``parsed``: their outputs, as a forEach's
``${{ steps.parse.outputs.items }}`` gives them, and/or ``paths``) and writes one of:

- ``csv``: ``<name>.csv`` with a header;
- ``jsonl``: ``<name>.jsonl``, one object per row;
- ``parquet``: a dataset folder ``<name>/part-NNNNN.parquet``, one part per input;
- ``dat``: a Concordance load file ``<name>.dat`` (UTF-8 with BOM, fields quoted with
  ``þ`` and separated by ASCII 20, CRLF), each record numbered with a Bates number:
  ``bates_prefix`` + a zero-padded counter (``SMITH000001``), in BEGBATES/ENDBATES.

``manifest.json`` lists every file written (rows, bytes, SHA-256), the Bates range,
and the lineage: each input file with the PARSE job that wrote it. Everything is
written in staging and published in one rename: a crash leaves no half export.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv as pacsv
from pydantic import BaseModel, ConfigDict, Field

from jobsys import FatalJobError, JobContext, SourcePath, job_type
from tasks.data import catalog, contracts
from tasks.data._common import DATA_INVARIANTS, Throttle, sha256_file
from tasks.data.contracts import LINEAGE

MANIFEST = "manifest.json"
DAT_SEPARATOR = "\x14"
DAT_QUOTE = "\u00fe"


class TableRef(BaseModel):
    """A table a PARSE wrote."""

    model_config = ConfigDict(extra="ignore")

    table: str
    path: SourcePath


class ParsedRef(BaseModel):
    """A PARSE job's output (only the fields EXPORT reads)."""

    model_config = ConfigDict(extra="ignore")

    job_id: str | None = None
    source_file: str | None = None
    tables: list[TableRef]


class ExportInput(BaseModel):
    """What to export, to which format."""

    parsed: list[ParsedRef] = Field(default_factory=list)
    paths: list[SourcePath] = Field(default_factory=list)
    table: str | None = None
    format: Literal["csv", "jsonl", "parquet", "dat"] = "csv"
    name: str = Field(default="export", pattern=r"^[A-Za-z0-9_.-]+$")
    bates_prefix: str = Field(default="DOC", pattern=r"^[A-Za-z0-9_-]*$")
    bates_start: int = Field(default=1, ge=0)
    bates_width: int = Field(default=6, ge=1, le=18)
    #: keep the _cf_ lineage columns in the exported rows
    include_lineage: bool = True
    batch_rows: int = Field(default=65_536, ge=1)
    max_rows_per_second: int | None = Field(default=None, ge=1)


class ExportedFile(BaseModel):
    """One file of the export."""

    path: str
    rows: int
    bytes: int
    sha256: str


class ExportOutput(BaseModel):
    """Where the export is and what it holds."""

    format: str
    output_dir: str
    manifest: str
    files: list[ExportedFile]
    rows: int
    bytes: int
    sources: int
    bates_first: str | None = None
    bates_last: str | None = None


class _Writer(Protocol):
    def write(self, batch: pa.RecordBatch, source_index: int) -> None: ...

    def close(self) -> list[Path]: ...


class _Csv:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self._w = path, pacsv.CSVWriter(path, schema)

    def write(self, batch: pa.RecordBatch, source_index: int) -> None:
        self._w.write_batch(batch)

    def close(self) -> list[Path]:
        self._w.close()
        return [self.path]


class _JsonLines:
    def __init__(self, path: Path) -> None:
        self.path, self._f = path, path.open("w", encoding="utf-8", newline="\n")

    def write(self, batch: pa.RecordBatch, source_index: int) -> None:
        self._f.writelines(
            json.dumps(row, default=_json_value, ensure_ascii=False) + "\n"
            for row in batch.to_pylist()
        )

    def close(self) -> list[Path]:
        self._f.close()
        return [self.path]


class _ParquetDataset:
    def __init__(self, folder: Path, schema: pa.Schema) -> None:
        self.folder, self.schema = folder, schema
        folder.mkdir(parents=True, exist_ok=True)
        self._writer: pq.ParquetWriter | None = None
        self._index = -1
        self._paths: list[Path] = []

    def write(self, batch: pa.RecordBatch, source_index: int) -> None:
        if source_index != self._index:
            if self._writer is not None:
                self._writer.close()
            path = self.folder / f"part-{source_index:05d}.parquet"
            self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
            self._paths.append(path)
            self._index = source_index
        assert self._writer is not None
        self._writer.write_batch(batch)

    def close(self) -> list[Path]:
        if self._writer is not None:
            self._writer.close()
        return self._paths


class _Dat:
    """A Concordance DAT load file with Bates numbers."""

    def __init__(self, path: Path, schema: pa.Schema, inputs: ExportInput) -> None:
        self.path, self.inputs = path, inputs
        self.next = inputs.bates_start
        self.first: str | None = None
        self.last: str | None = None
        self._f = path.open("w", encoding="utf-8-sig", newline="")
        self._f.write(self._record(["BEGBATES", "ENDBATES", *(f.name.upper() for f in schema)]))

    def bates(self, n: int) -> str:
        return f"{self.inputs.bates_prefix}{n:0{self.inputs.bates_width}d}"

    @staticmethod
    def _record(values: list[str]) -> str:
        cells = (DAT_QUOTE + v.replace(DAT_QUOTE, "") + DAT_QUOTE for v in values)
        return DAT_SEPARATOR.join(cells) + "\r\n"

    def write(self, batch: pa.RecordBatch, source_index: int) -> None:
        columns = [c.to_pylist() for c in batch.columns]
        lines = []
        for row in zip(*columns, strict=True):
            number = self.bates(self.next)
            if len(number) > len(self.inputs.bates_prefix) + self.inputs.bates_width:
                raise FatalJobError(
                    f"Bates counter overflow: {number} needs more than "
                    f"{self.inputs.bates_width} digits"
                )
            self.first = self.first or number
            self.last = number
            self.next += 1
            values = ["" if v is None else _text(v) for v in row]
            lines.append(self._record([number, number, *values]))
        self._f.writelines(lines)

    def close(self) -> list[Path]:
        self._f.close()
        return [self.path]


def _text(value: Any) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text.replace("\r\n", "\u00ae").replace("\n", "\u00ae")  # Concordance's in-field newline


def _json_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _inputs(inputs: ExportInput) -> list[tuple[str, str | None, str | None]]:
    """``(parquet path, PARSE job id, source file)`` of every input, in order."""
    found: list[tuple[str, str | None, str | None]] = []
    for ref in inputs.parsed:
        tables = {t.table: t for t in ref.tables}
        name = inputs.table or (next(iter(tables)) if len(tables) == 1 else None)
        if name is None or name not in tables:
            raise FatalJobError(
                f"parsed output of job {ref.job_id} has tables {sorted(tables)}: "
                "say which to export with table="
            )
        found.append((tables[name].path, ref.job_id, ref.source_file))
    found += [(p, None, None) for p in inputs.paths]
    if not found:
        raise FatalJobError("nothing to export: give parsed (PARSE outputs) or paths")
    return found


def _open(path: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise FatalJobError(f"cannot read parsed output {path}: {exc}") from exc


def _batches(
    sources: list[tuple[str, str | None, str | None]], inputs: ExportInput
) -> Iterator[tuple[int, pa.RecordBatch]]:
    schema: pa.Schema | None = None
    for index, (path, _, _) in enumerate(sources):
        pf = _open(path)
        here = pf.schema_arrow
        if not inputs.include_lineage:
            here = pa.schema([f for f in here if f.name not in LINEAGE])
        if schema is None:
            schema = here
        elif not here.equals(schema):
            changes = "; ".join(
                contracts.diff(contracts.contract_of("t", schema), contracts.contract_of("t", here))
            )
            raise FatalJobError(f"{path}: its schema differs from the first input's: {changes}")
        for batch in pf.iter_batches(batch_size=inputs.batch_rows, columns=schema.names):
            yield index, batch


@job_type(
    "data.export", capability="data.export@1", invariants=DATA_INVARIANTS, engines=["pyarrow"]
)
def export(inputs: ExportInput, ctx: JobContext) -> ExportOutput:
    """Write parsed tables as CSV, JSON Lines, a Parquet dataset or a Concordance DAT file."""
    sources = _inputs(inputs)
    total = sum(_open(p).metadata.num_rows for p, _, _ in sources)
    first = _open(sources[0][0]).schema_arrow
    schema = pa.schema([f for f in first if inputs.include_lineage or f.name not in LINEAGE])
    staging = ctx.staging_dir
    writer: _Writer
    if inputs.format == "csv":
        writer = _Csv(staging / f"{inputs.name}.csv", schema)
    elif inputs.format == "jsonl":
        writer = _JsonLines(staging / f"{inputs.name}.jsonl")
    elif inputs.format == "parquet":
        writer = _ParquetDataset(staging / inputs.name, schema)
    else:
        writer = _Dat(staging / f"{inputs.name}.dat", schema, inputs)
    uri = str(ctx.output_dir / inputs.name)
    rows_per_source = [0] * len(sources)
    written, throttle = 0, Throttle(inputs.max_rows_per_second)
    try:
        for index, batch in _batches(sources, inputs):
            start = time.perf_counter()
            writer.write(batch, index)
            latency = (time.perf_counter() - start) * 1000
            ctx.metrics.sink(uri, inputs.format, batch.num_rows, batch.nbytes, latency)
            written += batch.num_rows
            rows_per_source[index] += batch.num_rows
            ctx.progress.update(written, total)
            throttle.wrote(batch.num_rows)
    finally:
        paths = writer.close()
    files = [
        ExportedFile(
            path=str(p.relative_to(staging)),
            rows=pq.ParquetFile(p).metadata.num_rows if inputs.format == "parquet" else written,
            bytes=p.stat().st_size,
            sha256=sha256_file(p),
        )
        for p in paths
    ]
    bates = (writer.first, writer.last) if isinstance(writer, _Dat) else (None, None)
    manifest = {
        "format": inputs.format,
        "job_id": ctx.job_id,
        "created_at": catalog.now(),
        "rows": written,
        "files": [f.model_dump() for f in files],
        "bates": {"first": bates[0], "last": bates[1]} if bates[0] else None,
        "lineage": [
            {"parquet": p, "parse_job_id": job, "source_file": src, "rows": rows_per_source[i]}
            for i, (p, job, src) in enumerate(sources)
        ],
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return ExportOutput(
        format=inputs.format,
        output_dir=str(ctx.output_dir),
        manifest=str(ctx.output_dir / MANIFEST),
        files=files,
        rows=written,
        bytes=sum(f.bytes for f in files),
        sources=len(sources),
        bates_first=bates[0],
        bates_last=bates[1],
    )
