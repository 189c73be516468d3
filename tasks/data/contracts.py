"""Schema contracts: a table's columns (name, Arrow type, nullability) and its quarantine policy.

A contract is declared by a parser (its intent) or given as an input (CSV, JSON Lines),
and approved through ``data.schema`` (``tasks.data.schema``). Types are Arrow type
aliases: ``string``, ``int64``, ``int32``, ``float64``, ``bool``, ``date32``,
``timestamp[us]``, ``timestamp[ms, tz=UTC]``...
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, Field, field_validator, model_validator

#: lineage columns added to every parsed row (not part of a contract)
JOB_ID = "_cf_job_id"
SOURCE_FILE = "_cf_source_file"
SOURCE_LINE = "_cf_source_line"
LINEAGE = (JOB_ID, SOURCE_FILE, SOURCE_LINE)
#: one value per file: dictionary-encoded (an index per row, the text once)
LINEAGE_TEXT = pa.dictionary(pa.int32(), pa.string())
LINEAGE_FIELDS = (
    pa.field(JOB_ID, LINEAGE_TEXT, nullable=False),
    pa.field(SOURCE_FILE, LINEAGE_TEXT, nullable=False),
    pa.field(SOURCE_LINE, pa.int64(), nullable=True),
)


def arrow_type(alias: str) -> pa.DataType:
    """The Arrow type named ``alias``; ``ValueError`` naming it when unknown."""
    text = alias.strip()
    if text.startswith("timestamp[") and text.endswith("]"):
        unit, _, zone = text[len("timestamp[") : -1].partition(",")
        return pa.timestamp(unit.strip(), tz=zone.strip().removeprefix("tz=").strip() or None)
    try:
        return pa.type_for_alias(text)
    except (ValueError, KeyError):
        raise ValueError(f"unknown column type {alias!r} (an Arrow type alias)") from None


class Column(BaseModel):
    """One column of a contract."""

    name: str = Field(min_length=1, max_length=200)
    type: str = "string"
    nullable: bool = True

    @field_validator("name")
    @classmethod
    def _not_lineage(cls, value: str) -> str:
        if value.startswith("_cf_"):
            raise ValueError(f"{value!r}: names starting with _cf_ are lineage columns")
        return value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        arrow_type(value)
        return value


class QuarantinePolicy(BaseModel):
    """When quarantined rows fail the job instead of ending it with warnings."""

    #: fail when more than this fraction of a file's rows is quarantined (1.0: never)
    max_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    #: fail on any quarantined row
    fail_on_any: bool = False


class TableContract(BaseModel):
    """A table's schema contract: columns in order, and the quarantine policy."""

    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    columns: list[Column] = Field(min_length=1)
    policy: QuarantinePolicy = Field(default_factory=QuarantinePolicy)

    @model_validator(mode="after")
    def _unique(self) -> TableContract:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"table {self.table}: column {dupes[0]!r} declared twice")
        return self

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of the contract's columns (no lineage columns)."""
        return pa.schema([pa.field(c.name, arrow_type(c.type), c.nullable) for c in self.columns])

    def output_schema(self) -> pa.Schema:
        """The schema of the written table: the contract's columns, then lineage columns."""
        return pa.schema([*self.arrow_schema(), *LINEAGE_FIELDS])

    def fingerprint(self) -> str:
        """A hash of the columns (names, types, nullability): equal schemas, equal hashes."""
        cols = [[c.name, str(arrow_type(c.type)), c.nullable] for c in self.columns]
        return hashlib.sha256(json.dumps(cols).encode()).hexdigest()[:16]


def contract_of(table: str, schema: pa.Schema) -> TableContract:
    """The contract describing an observed Arrow schema (lineage columns left out)."""
    cols = [
        Column(name=f.name, type=str(f.type), nullable=f.nullable)
        for f in schema
        if f.name not in LINEAGE
    ]
    return TableContract(table=table, columns=cols)


def diff(declared: TableContract, observed: TableContract) -> list[str]:
    """What ``observed`` changes from ``declared``: one line per column added, removed, retyped."""
    before = {c.name: c for c in declared.columns}
    after = {c.name: c for c in observed.columns}
    out: list[str] = []
    for name, col in before.items():
        new = after.get(name)
        if new is None:
            out.append(f"- {name} {col.type} (removed)")
            continue
        if str(arrow_type(new.type)) != str(arrow_type(col.type)):
            out.append(f"~ {name}: {col.type} -> {new.type}")
        if new.nullable != col.nullable:
            out.append(f"~ {name}: nullable {col.nullable} -> {new.nullable}")
    out += [f"+ {n} {c.type} (added)" for n, c in after.items() if n not in before]
    return out


def as_json(contract: TableContract) -> dict[str, Any]:
    """The contract as plain JSON data."""
    return contract.model_dump(mode="json")
