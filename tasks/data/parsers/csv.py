"""``csv`` parser: a CSV file with a header, typed by the contract given as input.

Streams with pyarrow's CSV reader (bounded memory: one block at a time). Every
contract column must be in the header (extra columns are ignored); values are read
as text and cast to the contract's types a batch at a time. A batch that does not
cast is checked row by row: the rows that break the contract (a value of the wrong
type, a missing non-null value) are rejected with the column and line, the rest
kept. A row with the wrong number of fields (a truncated line) is rejected as well.
An empty value is null.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pacsv

from tasks.data.contracts import TableContract
from tasks.data.parsers import ParseOptions, ParserError, Piece, Rejected
from tasks.data.parsers._coerce import typed_rows

BLOCK_SIZE = 8 << 20


class CsvParser:
    """CSV with a header row, typed by a contract."""

    name = "csv"
    version = "1.0"

    def contracts(self, options: ParseOptions) -> dict[str, TableContract]:
        """The one table the contract describes."""
        if options.contract is None:
            raise ParserError("the csv parser needs a contract (the table's typed columns)")
        return {options.contract.table: options.contract}

    def parse(self, path: Path, options: ParseOptions) -> Iterator[Piece]:
        """Typed batches of the contract's table; rejected rows with reason and line."""
        (contract,) = self.contracts(options).values()
        names = [c.name for c in contract.columns]
        rejected: list[Rejected] = []
        skipped: list[int] = []

        def invalid(row: Any) -> str:
            line = int(row.number) if row.number is not None else None
            reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
            rejected.append(Rejected(contract.table, line, reason, str(row.text)))
            if line is not None:
                skipped.append(line)
            return "skip"

        # Without threads the reader knows the line number of a row it rejects.
        read = pacsv.ReadOptions(
            encoding=options.encoding, block_size=BLOCK_SIZE, use_threads=False
        )
        parse = pacsv.ParseOptions(invalid_row_handler=invalid, ignore_empty_lines=False)
        convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            include_columns=names,
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=False,
        )
        try:
            reader = pacsv.open_csv(path, read, parse, convert)
        except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
            problem = _header_problem(exc, names, options.encoding)
            raise ParserError(f"{path.name}: {problem}") from exc
        except (OSError, LookupError) as exc:
            raise ParserError(f"{path.name}: cannot be read: {exc}") from exc
        schema, seen = contract.arrow_schema(), 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise ParserError(
                    f"{path.name}: after line {_line_of(seen + 1, skipped)}: {_short(exc)} "
                    f"(is it {options.encoding} text? set encoding=)"
                ) from exc
            yield from rejected
            rejected.clear()
            lines = _lines(seen, batch.num_rows, skipped)
            seen += batch.num_rows
            yield from typed_rows(contract, schema, batch, lines)
        yield from rejected


def _lines(seen: int, n: int, skipped: list[int]) -> pa.Array:
    """Source lines of data rows ``seen+1 .. seen+n`` (line 1 is the header)."""
    first = _line_of(seen + 1, skipped)
    last = _line_of(seen + n, skipped)
    if last - first == n - 1:  # no rejected line in between: one range
        return pc.add(_range(n), first)
    return pa.array([_line_of(seen + i, skipped) for i in range(1, n + 1)], pa.int64())


_RANGE: list[pa.Array] = [pa.array([], pa.int64())]


def _range(n: int) -> pa.Array:
    """``0 .. n-1`` as int64: a slice of one cached range, grown when too short."""
    if len(_RANGE[0]) < n:
        _RANGE[0] = pa.array(range(max(n, 2 * len(_RANGE[0]))), pa.int64())
    return _RANGE[0].slice(0, n)


def _line_of(ordinal: int, skipped: list[int]) -> int:
    """The line of the ``ordinal``-th accepted data row, given the rejected lines."""
    line = ordinal + 1
    for s in sorted(skipped):
        if s <= line:
            line += 1
    return line


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0]


def _header_problem(exc: Exception, names: list[str], encoding: str) -> str:
    text = _short(exc)
    if "UTF8" in text or "decode" in text.lower():
        return f"{text} (is it {encoding} text? set encoding=)"
    if "include_columns" in text or "does not exist" in text:
        return f"the header lacks a contract column ({text}); expected columns: {', '.join(names)}"
    return f"not readable as CSV: {text}"
