"""``data.schema`` (``data.schema@1``): schema governance for a parser's tables. Writes no data.

Actions:

- ``observe``: read the schemas of Parquet outputs (``parsed`` or ``paths``), record
  them as *observed*, and show how they differ from the parser's declared intent;
- ``approve``: record the declared contract (or, with ``approve: observed``, the last
  observed one) as the *approved* contract, with who (``by``) and when; an approval
  artifact ``contract-<table>.json`` is published with the job;
- ``show``: the declared, approved and last observed contracts and their differences.

PARSE enforces the approved contract (its ``schema_policy``): a declared schema that
drifted from the approved one fails the PARSE.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Literal

import pyarrow.parquet as pq
from pydantic import BaseModel, Field, model_validator

from jobsys import FatalJobError, Invariant, JobContext, SourcePath, job_type
from tasks.data import catalog, contracts
from tasks.data.contracts import TableContract
from tasks.data.export import ParsedRef
from tasks.data.parsers import ParseOptions, get

GOVERNANCE = Invariant(
    "governance_only", "reads schemas and records contracts; never transforms data"
)


class SchemaInput(BaseModel):
    """The parser, the action, and what it needs."""

    action: Literal["observe", "approve", "show"]
    parser: str = Field(min_length=1)
    parser_version: str | None = None
    contract: TableContract | None = None
    #: only this table (default: every table of the parser)
    table: str | None = None
    parsed: list[ParsedRef] = Field(default_factory=list)
    paths: list[SourcePath] = Field(default_factory=list)
    #: who approves (required to approve)
    by: str | None = None
    approve: Literal["declared", "observed"] = "declared"
    catalog: SourcePath | None = None

    @model_validator(mode="after")
    def _needs(self) -> SchemaInput:
        if self.action == "approve" and not (self.by and self.by.strip()):
            raise ValueError("approve needs by= (who approves)")
        if self.action == "observe" and not (self.parsed or self.paths):
            raise ValueError("observe needs parsed= or paths= (Parquet outputs to read)")
        return self


class TableSchema(BaseModel):
    """One table's contracts and differences."""

    table: str
    declared_fingerprint: str
    approved_fingerprint: str | None = None
    approved_by: str | None = None
    approved_at: str | None = None
    #: declared vs approved ("" lines: none); PARSE fails on these under its schema policy
    drift: list[str] = Field(default_factory=list)
    observed_fingerprint: str | None = None
    #: observed vs declared
    observed_changes: list[str] = Field(default_factory=list)


class SchemaOutput(BaseModel):
    """The action taken and each table's state after it."""

    action: str
    parser: str
    parser_version: str
    tables: list[TableSchema]


def _record(
    conn: sqlite3.Connection,
    parser: str,
    version: str,
    contract: TableContract,
    status: str,
    by: str,
    job_id: str,
) -> None:
    conn.execute(
        "INSERT INTO schema_contracts (parser, table_name, status, fingerprint, contract, "
        "parser_version, recorded_by, recorded_at, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            parser,
            contract.table,
            status,
            contract.fingerprint(),
            json.dumps(contracts.as_json(contract)),
            version,
            by,
            catalog.now(),
            job_id,
        ),
    )


def _last_observed(conn: sqlite3.Connection, parser: str, table: str) -> TableContract | None:
    row = conn.execute(
        "SELECT contract FROM schema_contracts WHERE parser = ? AND table_name = ? "
        "AND status = 'observed' ORDER BY id DESC LIMIT 1",
        (parser, table),
    ).fetchone()
    return TableContract.model_validate(json.loads(row[0])) if row else None


def _observed(inputs: SchemaInput, table: str) -> TableContract | None:
    paths = [t.path for ref in inputs.parsed for t in ref.tables if t.table == table]
    paths += inputs.paths if inputs.table == table or inputs.table is None else []
    seen: TableContract | None = None
    for path in paths:
        try:
            schema = pq.read_schema(path)
        except (OSError, ValueError) as exc:
            raise FatalJobError(f"cannot read the schema of {path}: {exc}") from exc
        here = contracts.contract_of(table, schema)
        if seen is not None and here.fingerprint() != seen.fingerprint():
            changes = "; ".join(contracts.diff(seen, here))
            raise FatalJobError(f"outputs of table {table} disagree: {path}: {changes}")
        seen = here
    return seen


@job_type("data.schema", capability="data.schema@1", invariants=[GOVERNANCE], engines=["pyarrow"])
def schema(inputs: SchemaInput, ctx: JobContext) -> SchemaOutput:
    """Observe, approve or show a parser's table contracts."""
    parser = get(inputs.parser, inputs.parser_version)
    declared = parser.contracts(ParseOptions(contract=inputs.contract))
    if inputs.table is not None and inputs.table not in declared:
        raise FatalJobError(
            f"parser {parser.name} has no table {inputs.table} ({sorted(declared)})"
        )
    names = [inputs.table] if inputs.table else list(declared)
    out: list[TableSchema] = []
    with catalog.connect(inputs.catalog, ctx) as conn:
        for name in names:
            intent = declared[name]
            observed = _observed(inputs, name) if inputs.action == "observe" else None
            if observed is not None:
                _record(
                    conn,
                    parser.name,
                    parser.version,
                    observed,
                    "observed",
                    "data.schema",
                    ctx.job_id,
                )
            if inputs.action == "approve":
                chosen = (
                    intent
                    if inputs.approve == "declared"
                    else _last_observed(conn, parser.name, name)
                )
                if chosen is None:
                    raise FatalJobError(f"no observed schema of {parser.name}.{name} to approve")
                _record(
                    conn,
                    parser.name,
                    parser.version,
                    chosen,
                    "approved",
                    inputs.by or "",
                    ctx.job_id,
                )
                artifact = {
                    **contracts.as_json(chosen),
                    "approved_by": inputs.by,
                    "parser": parser.name,
                }
                (ctx.staging_dir / f"contract-{name}.json").write_text(
                    json.dumps(artifact, indent=2) + "\n"
                )
            observed = observed or _last_observed(conn, parser.name, name)
            approved = catalog.approved_contract(conn, parser.name, name)
            status = TableSchema(table=name, declared_fingerprint=intent.fingerprint())
            if approved is not None:
                was = TableContract.model_validate(approved["contract"])
                status.approved_fingerprint = approved["fingerprint"]
                status.approved_by, status.approved_at = approved["by"], approved["at"]
                status.drift = contracts.diff(was, intent)
            if observed is not None:
                status.observed_fingerprint = observed.fingerprint()
                status.observed_changes = contracts.diff(intent, observed)
                if inputs.action == "observe" and status.observed_changes:
                    ctx.warn(
                        f"{parser.name}.{name}: observed schema differs from declared: "
                        + "; ".join(status.observed_changes)
                    )
            out.append(status)
    return SchemaOutput(
        action=inputs.action, parser=parser.name, parser_version=parser.version, tables=out
    )
