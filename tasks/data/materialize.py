"""``data.materialize`` (``data.materialize@1``): many catalogued files → a versioned dataset.

Seed 000's open questions, answered here: the job is MATERIALIZE and its product a
*dataset* (name + integer version). Each run is a full rebuild into a new version,
published atomically (``data.parquet`` + ``manifest.json`` + ``contract.json``); when
the selected files, their SHA-256s, the parser and the contract are all unchanged,
no new version is made (the run says which version it matches). A PARSE declares a
dataset as read-only context with ``context: [{name, version?}]``: the latest (or
pinned) version is resolved through the catalog, checked (its manifest exists and its
file's schema matches its contract) and recorded in the PARSE's lineage.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from jobsys import FatalJobError, JobContext, SourcePath, job_type
from tasks.data import catalog, contracts
from tasks.data._common import DATA_INVARIANTS, ParquetSink, sha256_file, with_lineage
from tasks.data.catalog import Selection
from tasks.data.contracts import TableContract
from tasks.data.parse import Tally, guarded, policy_violation
from tasks.data.parsers import ParseOptions, Rows, get

DATA_FILE = "data.parquet"
MANIFEST = "manifest.json"
CONTRACT = "contract.json"


class MaterializeInput(BaseModel):
    """Which files, parsed how, into which dataset."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    selection: Selection
    parser: str = Field(min_length=1)
    parser_version: str | None = None
    #: the table to keep when the parser writes several (default: its only table)
    table: str | None = None
    contract: TableContract | None = None
    encoding: str = "utf-8"
    catalog: SourcePath | None = None
    #: make a new version even when the inputs are unchanged
    rebuild: bool = False


class MaterializeOutput(BaseModel):
    """The dataset version this run made, or the unchanged one it matched."""

    name: str
    version: int
    path: str
    created: bool
    files: int
    rows: int
    quarantined: int
    inputs_fingerprint: str


@dataclass(frozen=True)
class Dataset:
    """A published dataset version."""

    name: str
    version: int
    path: str
    inputs_fingerprint: str


def open_dataset(conn: sqlite3.Connection, name: str, version: int | None) -> Dataset:
    """The latest (or the given) published version of ``name``, checked; ``FatalJobError`` else."""
    sql = "SELECT version, path, inputs_fingerprint, contract FROM datasets WHERE name = ?"
    args: list[object] = [name]
    if version is not None:
        sql += " AND version = ?"
        args.append(version)
    for found, path, fingerprint, contract in conn.execute(sql + " ORDER BY version DESC", args):
        folder = Path(path)
        if not (folder / MANIFEST).is_file():  # recorded, never published (a crashed run)
            continue
        declared = TableContract.model_validate(json.loads(contract))
        observed = contracts.contract_of(declared.table, pq.read_schema(folder / DATA_FILE))
        if observed.fingerprint() != declared.fingerprint():
            changes = "; ".join(contracts.diff(declared, observed))
            raise FatalJobError(f"dataset {name} v{found}: file breaks its contract: {changes}")
        return Dataset(name, found, path, fingerprint)
    pinned = f" version {version}" if version is not None else ""
    raise FatalJobError(f"no published dataset {name!r}{pinned}: run data.materialize first")


def _latest(conn: sqlite3.Connection, name: str) -> tuple[int, Dataset | None]:
    top = conn.execute("SELECT MAX(version) FROM datasets WHERE name = ?", (name,)).fetchone()[0]
    try:
        return top or 0, open_dataset(conn, name, None)
    except FatalJobError:
        return top or 0, None


@job_type(
    "data.materialize",
    capability="data.materialize@1",
    invariants=DATA_INVARIANTS,
    engines=["pyarrow"],
)
def materialize(inputs: MaterializeInput, ctx: JobContext) -> MaterializeOutput:
    """Parse a selection of files into one new dataset version with a manifest and contract."""
    files = catalog.select_files(inputs.catalog, ctx, inputs.selection)
    if not files:
        raise FatalJobError(f"selection {inputs.selection.describe()} matched no files")
    parser = get(inputs.parser, inputs.parser_version)
    options = ParseOptions(contract=inputs.contract, encoding=inputs.encoding)
    tables = parser.contracts(options)
    table = inputs.table or (next(iter(tables)) if len(tables) == 1 else None)
    if table not in tables:
        raise FatalJobError(f"table= must name one of {parser.name}'s tables: {sorted(tables)}")
    contract = tables[table]
    hashes: list[dict[str, object]] = []
    for i, path in enumerate(files):
        hashes.append({"path": path, "sha256": sha256_file(Path(path))})
        ctx.progress.update(i + 1, len(files) * 2)
    basis = {
        "inputs": hashes,
        "parser": [parser.name, parser.version],
        "contract": contract.fingerprint(),
    }
    fingerprint = hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()
    with catalog.connect(inputs.catalog, ctx) as conn:
        top, latest = _latest(conn, inputs.name)
    if latest is not None and latest.inputs_fingerprint == fingerprint and not inputs.rebuild:
        ctx.logger.info("dataset %s v%d already has these inputs", inputs.name, latest.version)
        return MaterializeOutput(
            name=inputs.name,
            version=latest.version,
            path=latest.path,
            created=False,
            files=len(files),
            rows=0,
            quarantined=0,
            inputs_fingerprint=fingerprint,
        )
    sink = ParquetSink(ctx, DATA_FILE, inputs.name, contract.output_schema())
    total = Tally()
    try:
        for i, (path, entry) in enumerate(zip(files, hashes, strict=True)):
            tally = Tally()
            for piece in guarded(parser, Path(path), options):
                if isinstance(piece, Rows):
                    if piece.table == table:
                        sink.write(with_lineage(piece.batch, ctx.job_id, path, piece.lines))
                        tally.rows[table] = tally.rows.get(table, 0) + piece.batch.num_rows
                elif piece.table in (table, ""):
                    tally.reject(piece)
            problem = policy_violation({table: contract}, tally)
            if problem:
                raise FatalJobError(f"{Path(path).name}: {problem}")
            entry["rows"], entry["quarantined"] = tally.total_rows, tally.quarantined
            total.rows[table] = total.rows.get(table, 0) + tally.total_rows
            total.quarantined += tally.quarantined
            ctx.progress.update(len(files) + i + 1, len(files) * 2)
    finally:
        sink.close()
    if total.quarantined:
        ctx.warn(
            f"dataset {inputs.name}: {total.quarantined} rows of the inputs broke the contract"
        )
    version = top + 1
    manifest = {
        "name": inputs.name,
        "version": version,
        "job_id": ctx.job_id,
        "created_at": catalog.now(),
        "selection": inputs.selection.describe(),
        "parser": {"name": parser.name, "version": parser.version},
        "table": table,
        "contract_fingerprint": contract.fingerprint(),
        "inputs_fingerprint": fingerprint,
        "inputs": hashes,
        "rows": total.total_rows,
    }
    (ctx.staging_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    (ctx.staging_dir / CONTRACT).write_text(
        json.dumps(contracts.as_json(contract), indent=2) + "\n"
    )
    with catalog.connect(inputs.catalog, ctx) as conn:
        conn.execute(
            "INSERT INTO datasets (name, version, path, inputs_fingerprint, contract, job_id, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                inputs.name,
                version,
                str(ctx.output_dir),
                fingerprint,
                json.dumps(contracts.as_json(contract)),
                ctx.job_id,
                manifest["created_at"],
            ),
        )
    return MaterializeOutput(
        name=inputs.name,
        version=version,
        path=str(ctx.output_dir),
        created=True,
        files=len(files),
        rows=total.total_rows,
        quarantined=total.quarantined,
        inputs_fingerprint=fingerprint,
    )


def read(path: str) -> pa.Table:
    """A published dataset version's rows (``path``: its folder)."""
    return pq.read_table(Path(path) / DATA_FILE)
