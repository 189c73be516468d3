"""``jsonl`` parser: JSON Lines (one object per line), typed by the contract given as input.

Each line is decoded (``encoding``), parsed and converted on its own: a line that is
not valid text, not valid JSON (a truncated line), not an object, or whose fields do
not match the contract is rejected with the reason and line; the file goes on. Keys
absent from a row are null; keys outside the contract are ignored. Blank lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from tasks.data.contracts import TableContract
from tasks.data.parsers import ParseOptions, ParserError, Piece, Rejected, Rows
from tasks.data.parsers._coerce import RowBuilder

RAW_LIMIT = 2000


class JsonLinesParser:
    """JSON Lines typed by a contract."""

    name = "jsonl"
    version = "1.0"

    def contracts(self, options: ParseOptions) -> dict[str, TableContract]:
        """The one table the contract describes."""
        if options.contract is None:
            raise ParserError("the jsonl parser needs a contract (the table's typed columns)")
        return {options.contract.table: options.contract}

    def parse(self, path: Path, options: ParseOptions) -> Iterator[Piece]:
        """Typed batches of the contract's table; rejected lines with reason and line."""
        (contract,) = self.contracts(options).values()
        table = contract.table
        builder = RowBuilder(contract)
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise ParserError(f"{path.name}: cannot be read: {exc.strerror or exc}") from exc
        with handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode(options.encoding)
                except UnicodeDecodeError as exc:
                    reason = f"not {options.encoding} text at byte {exc.start}"
                    yield Rejected(table, number, reason, raw[:RAW_LIMIT].decode("latin-1"))
                    continue
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    reason = f"invalid JSON at column {exc.colno}: {exc.msg}"
                    yield Rejected(table, number, reason, text[:RAW_LIMIT].rstrip("\r\n"))
                    continue
                if not isinstance(row, dict):
                    reason = f"a JSON {type(row).__name__}, not an object"
                    yield Rejected(table, number, reason, text[:RAW_LIMIT].rstrip("\r\n"))
                    continue
                problem = builder.add(row, number, empty_is_null=False)
                if problem is not None:
                    yield Rejected(table, number, problem, text[:RAW_LIMIT].rstrip("\r\n"))
                elif len(builder) >= options.batch_rows:
                    batch, lines = builder.take()
                    yield Rows(table, batch, lines)
        if len(builder):
            batch, lines = builder.take()
            yield Rows(table, batch, lines)
