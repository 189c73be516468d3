"""Row-by-row conversion of text and JSON values to a contract's types, with a reason on failure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tasks.data.contracts import TableContract
from tasks.data.parsers import Piece, Rejected, Rows

Convert = Callable[[Any], Any]

_TRUE = {"true", "t", "1", "y", "yes", "Y"}
_FALSE = {"false", "f", "0", "n", "no", "N"}


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError("has a fraction")
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError(f"a {type(value).__name__} is not an integer")


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise ValueError(f"a {type(value).__name__} is not a number")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _TRUE or text in _TRUE:
            return True
        if text.lower() in _FALSE or text in _FALSE:
            return False
    raise ValueError("not a boolean")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"a {type(value).__name__} is not a string")


def parse_timestamp(text: str) -> dt.datetime:
    """ISO 8601, or FIX's ``YYYYMMDD-HH:MM:SS[.fff]`` (UTC)."""
    text = text.strip()
    if len(text) >= 17 and text[8] == "-" and text[:8].isdigit():
        fmt = "%Y%m%d-%H:%M:%S.%f" if "." in text else "%Y%m%d-%H:%M:%S"
        return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _timestamp(value: Any) -> dt.datetime:
    if isinstance(value, str):
        return parse_timestamp(value)
    raise ValueError("not a timestamp text")


def _date(value: Any) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip())
    raise ValueError("not a date text")


def converter(arrow: pa.DataType) -> Convert:
    """The conversion of one value to ``arrow``'s Python type (``ValueError`` on failure)."""
    if pa.types.is_integer(arrow):
        bits = arrow.bit_width
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if pa.types.is_unsigned_integer(arrow):
            low, high = 0, 2**bits - 1

        def bounded(value: Any) -> int:
            number = _int(value)
            if not low <= number <= high:
                raise ValueError(f"out of range for {arrow}")
            return number

        return bounded
    if pa.types.is_floating(arrow):
        return _float
    if pa.types.is_boolean(arrow):
        return _bool
    if pa.types.is_timestamp(arrow):
        return _timestamp
    if pa.types.is_date(arrow):
        return _date
    return _str


class RowBuilder:
    """Collects rows as columns; ``add`` returns the reason a row breaks the contract, or None."""

    def __init__(self, contract: TableContract) -> None:
        self.contract = contract
        self.schema = contract.arrow_schema()
        self._fields = [(f.name, f.nullable, converter(f.type), str(f.type)) for f in self.schema]
        self.columns: dict[str, list[Any]] = {f.name: [] for f in self.schema}
        self.lines: list[int] = []

    def __len__(self) -> int:
        return len(self.lines)

    def add(self, values: dict[str, Any], line: int, empty_is_null: bool = True) -> str | None:
        """Convert and append a row, or say why it cannot be (nothing is appended then)."""
        converted: list[Any] = []
        for name, nullable, convert, type_name in self._fields:
            value = values.get(name)
            if value is None or (empty_is_null and value == ""):
                if not nullable:
                    return f"{name}: missing value (the contract says not null)"
                converted.append(None)
                continue
            try:
                converted.append(convert(value))
            except (ValueError, TypeError, OverflowError) as exc:
                return f"{name}: {value!r} is not {type_name} ({exc})"
        for (name, *_), value in zip(self._fields, converted, strict=True):
            self.columns[name].append(value)
        self.lines.append(line)
        return None

    def take(self) -> tuple[pa.RecordBatch, pa.Array]:
        """The rows collected so far as a typed batch with their lines; the builder is emptied."""
        try:
            batch = pa.RecordBatch.from_pydict(self.columns, schema=self.schema)
        except (pa.ArrowInvalid, OverflowError) as exc:
            raise ValueError(f"table {self.contract.table}: {exc}") from exc
        lines = pa.array(self.lines, pa.int64())
        self.columns = {name: [] for name in self.columns}
        self.lines = []
        return batch, lines


def typed_rows(
    contract: TableContract, schema: pa.Schema, batch: pa.RecordBatch, lines: pa.Array
) -> Iterator[Piece]:
    """A batch of text columns cast to the contract, or its good rows and a rejection for
    each bad one (checked row by row only when the batch as a whole does not cast)."""
    nulls_ok = all(f.nullable or batch.column(f.name).null_count == 0 for f in schema)
    if nulls_ok:
        try:
            cast = pa.RecordBatch.from_arrays(
                [pc.cast(batch.column(f.name), f.type) for f in schema], schema=schema
            )
            yield Rows(contract.table, cast, lines)
            return
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # some value does not cast: check this batch row by row, below
    builder = RowBuilder(contract)
    for values, line in zip(batch.to_pylist(), lines.to_pylist(), strict=True):
        reason = builder.add(values, line)
        if reason is not None:
            raw = ",".join("" if v is None else str(v) for v in values.values())
            yield Rejected(contract.table, line, reason, raw)
    if len(builder):
        good, good_lines = builder.take()
        yield Rows(contract.table, good, good_lines)
