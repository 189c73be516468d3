"""Parsers: named, versioned plugins turning one file into typed Arrow batches per table.

A parser declares its output tables and their contracts (``contracts(options)``) and
yields ``Rows`` (a record batch of one table, typed as its contract, with the source
line of each row) and ``Rejected`` (a row that breaks the contract: reason, line, raw
text). Built in: ``csv`` and ``jsonl`` (typed by the contract given as input) and
``fix`` (FIX 4.x tag=value logs; ``orders`` and ``executions``). Third-party parsers
register under the ``jobsys.data.parsers`` entry point group, the value naming a
``Parser`` instance (``mypkg.parsers:weblog``).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import pyarrow as pa

from jobsys import FatalJobError
from tasks.data.contracts import TableContract

ENTRY_POINT_GROUP = "jobsys.data.parsers"


class ParserError(FatalJobError):
    """The file cannot be parsed at all (unreadable, wrong encoding, a parser bug)."""


@dataclass(frozen=True)
class Rows:
    """Rows of ``table`` typed as its contract, and the source line of each row."""

    table: str
    batch: pa.RecordBatch
    lines: pa.Array


@dataclass(frozen=True)
class Rejected:
    """A row that breaks its contract: quarantined with the reason and its source line."""

    table: str
    line: int | None
    reason: str
    raw: str


Piece = Rows | Rejected


@dataclass(frozen=True)
class ParseOptions:
    """What a parse may be told: a contract (CSV, JSON Lines), text encoding, read-only context."""

    contract: TableContract | None = None
    encoding: str = "utf-8"
    batch_rows: int = 65_536
    #: read-only context tables (materialized datasets) by name
    context: Mapping[str, pa.Table] = field(default_factory=dict)


@runtime_checkable
class Parser(Protocol):
    """A named, versioned parser."""

    name: str
    version: str

    def contracts(self, options: ParseOptions) -> dict[str, TableContract]:
        """The tables this parser writes, each with its declared contract."""
        ...

    def parse(self, path: Path, options: ParseOptions) -> Iterator[Piece]:
        """Rows and rejected rows of one file, in file order."""
        ...


def _builtin() -> dict[str, Parser]:
    from tasks.data.parsers.csv import CsvParser
    from tasks.data.parsers.fix import FixParser
    from tasks.data.parsers.jsonl import JsonLinesParser

    parsers: list[Parser] = [CsvParser(), JsonLinesParser(), FixParser()]
    return {p.name: p for p in parsers}


def available() -> dict[str, Parser]:
    """Every parser by name: built-ins, then those of ``jobsys.data.parsers`` entry points."""
    parsers = _builtin()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not hide the others
            raise ParserError(
                f"parser plugin {ep.name} ({ep.value}) failed to load: {exc}"
            ) from exc
        if not isinstance(plugin, Parser):
            raise ParserError(f"parser plugin {ep.name} ({ep.value}) is not a Parser")
        parsers[plugin.name] = plugin
    return parsers


def get(name: str, version: str | None = None) -> Parser:
    """The parser ``name`` (at ``version`` when pinned); ``ParserError`` naming what exists."""
    parsers = available()
    parser = parsers.get(name)
    if parser is None:
        raise ParserError(f"unknown parser {name!r} (available: {', '.join(sorted(parsers))})")
    if version is not None and version != parser.version:
        raise ParserError(f"parser {name} is version {parser.version}, not {version}")
    return parser
