"""``fix`` parser: FIX 4.x tag=value logs, one message per line, SOH or ``|`` delimited.

Text before ``8=FIX`` on a line (a log timestamp) is ignored. Each message is checked
as FIX defines it: BodyLength (9) and CheckSum (10, computed as if delimited by SOH)
must match, so a truncated or corrupted line is rejected with the reason and line.
New Order Single (35=D) rows go to ``orders``, Execution Reports (35=8) to
``executions``; other message types (heartbeats, logons...) are not tabled.

Read-only context: given a materialized dataset named ``securities`` (a ``symbol``
column), an order or execution for a symbol it lacks is rejected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from tasks.data.contracts import Column, TableContract
from tasks.data.parsers import ParseOptions, ParserError, Piece, Rejected
from tasks.data.parsers._coerce import typed_rows

SOH = "\x01"
RAW_LIMIT = 2000
_TS = "timestamp[ms, tz=UTC]"

#: column -> FIX tag, per table
ORDER_TAGS = {
    "fix_version": "8",
    "msg_seq_num": "34",
    "sending_time": "52",
    "sender": "49",
    "target": "56",
    "cl_ord_id": "11",
    "symbol": "55",
    "side": "54",
    "order_qty": "38",
    "ord_type": "40",
    "price": "44",
}
EXECUTION_TAGS = {
    "fix_version": "8",
    "msg_seq_num": "34",
    "sending_time": "52",
    "sender": "49",
    "target": "56",
    "order_id": "37",
    "exec_id": "17",
    "cl_ord_id": "11",
    "exec_type": "150",
    "ord_status": "39",
    "symbol": "55",
    "side": "54",
    "last_qty": "32",
    "last_px": "31",
    "cum_qty": "14",
    "avg_px": "6",
}
_TYPES = {
    "msg_seq_num": "int64",
    "sending_time": _TS,
    "order_qty": "float64",
    "price": "float64",
    "last_qty": "float64",
    "last_px": "float64",
    "cum_qty": "float64",
    "avg_px": "float64",
}
_REQUIRED = {
    "fix_version",
    "msg_seq_num",
    "sending_time",
    "cl_ord_id",
    "symbol",
    "side",
    "order_qty",
    "order_id",
    "exec_id",
    "ord_status",
}


def _contract(table: str, tags: dict[str, str]) -> TableContract:
    return TableContract(
        table=table,
        columns=[
            Column(name=n, type=_TYPES.get(n, "string"), nullable=n not in _REQUIRED) for n in tags
        ],
    )


ORDERS = _contract("orders", ORDER_TAGS)
EXECUTIONS = _contract("executions", EXECUTION_TAGS)
_TABLES = {"D": (ORDERS, ORDER_TAGS), "8": (EXECUTIONS, EXECUTION_TAGS)}


def checksum_problem(raw: bytes, delimiter: str) -> str | None:
    """Why ``raw`` (one message, no line end) fails FIX's BodyLength/CheckSum checks, or None."""
    sep = delimiter.encode()
    tail = raw.rfind(sep + b"10=")
    declared = raw[tail + 4 :].rstrip(sep) if tail >= 0 else b""
    if not declared:
        return "truncated message: no CheckSum (10=) field"
    body = raw[: tail + 1]
    total = sum(body) - (body.count(sep) * (sep[0] - 1) if sep != b"\x01" else 0)
    if not declared.isdigit() or int(declared) != total % 256:
        return (
            f"CheckSum mismatch: 10={declared.decode(errors='replace')}, computed {total % 256:03d}"
        )
    first = body.find(sep)
    second = body.find(sep, first + 1)
    if first < 0 or second < 0 or not body[first + 1 : first + 3] == b"9=":
        return "BodyLength (9=) is not the second field"
    length = body[first + 3 : second]
    if not length.isdigit() or int(length) != len(body) - second - 1:
        actual = len(body) - second - 1
        return f"BodyLength mismatch: 9={length.decode(errors='replace')}, actual {actual}"
    return None


class FixParser:
    """FIX 4.x logs → ``orders`` and ``executions``."""

    name = "fix"
    version = "1.0"

    def contracts(self, options: ParseOptions) -> dict[str, TableContract]:
        """``orders`` (35=D) and ``executions`` (35=8)."""
        return {"orders": ORDERS, "executions": EXECUTIONS}

    def parse(self, path: Path, options: ParseOptions) -> Iterator[Piece]:  # noqa: C901
        """Typed batches of both tables; rejected messages with reason and line."""
        pending = {kind: _Pending(contract, tags) for kind, (contract, tags) in _TABLES.items()}
        known = _known_symbols(options)
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise ParserError(f"{path.name}: cannot be read: {exc.strerror or exc}") from exc
        with handle:
            for number, line in enumerate(handle, start=1):
                raw = line.rstrip(b"\r\n")
                start = raw.find(b"8=FIX")
                if start < 0:
                    if raw.strip():
                        yield Rejected("", number, "not a FIX message (no 8=FIX)", _raw(raw))
                    continue
                raw = raw[start:]
                delimiter = SOH if b"\x01" in raw else "|"
                problem = checksum_problem(raw, delimiter)
                if problem is None:
                    try:
                        text = raw.decode(options.encoding)
                    except UnicodeDecodeError as exc:
                        problem = f"not {options.encoding} text at byte {exc.start}"
                if problem is not None:
                    yield Rejected("", number, problem, _raw(raw))
                    continue
                fields = dict(f.split("=", 1) for f in text.split(delimiter) if "=" in f)
                table = pending.get(fields.get("35", ""))
                if table is None:
                    continue
                if known is not None and fields.get("55") not in known:
                    reason = f"symbol: {fields.get('55')!r} is not in context securities"
                    yield Rejected(table.contract.table, number, reason, _raw(raw))
                    continue
                table.add(fields, number)
                if len(table.lines) >= options.batch_rows:
                    yield from table.take()
        for table in pending.values():
            if table.lines:
                yield from table.take()


class _Pending:
    """One table's rows as text, converted a batch at a time (row by row only on failure)."""

    def __init__(self, contract: TableContract, tags: dict[str, str]) -> None:
        self.contract, self.schema = contract, contract.arrow_schema()
        self.tags = list(tags.items())
        self.columns: dict[str, list[str | None]] = {name: [] for name in tags}
        self.lines: list[int] = []

    def add(self, fields: dict[str, str], line: int) -> None:
        for name, tag in self.tags:
            value = fields.get(tag)
            if name == "sending_time" and value is not None:
                value = iso_time(value)
            self.columns[name].append(value)
        self.lines.append(line)

    def take(self) -> Iterator[Piece]:
        batch = pa.RecordBatch.from_pydict(
            {n: pa.array(v, pa.string()) for n, v in self.columns.items()}
        )
        lines = pa.array(self.lines, pa.int64())
        self.columns = {name: [] for name in self.columns}
        self.lines = []
        yield from typed_rows(self.contract, self.schema, batch, lines)


def iso_time(value: str) -> str:
    """FIX's UTCTimestamp ``YYYYMMDD-HH:MM:SS[.sss]`` as ISO 8601 UTC; other text unchanged."""
    if len(value) >= 17 and value[8] == "-" and value[:8].isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:8]}T{value[9:]}Z"
    return value


def _known_symbols(options: ParseOptions) -> set[str] | None:
    table = options.context.get("securities")
    if table is None:
        return None
    if "symbol" not in table.column_names:
        raise ParserError("context securities has no symbol column")
    return {s for s in table.column("symbol").to_pylist() if s is not None}


def _raw(raw: bytes) -> str:
    return raw[:RAW_LIMIT].decode("latin-1").replace(SOH, "|")
