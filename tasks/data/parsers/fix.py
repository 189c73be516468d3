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

from tasks.data.contracts import Column, TableContract
from tasks.data.parsers import ParseOptions, ParserError, Piece, Rejected, Rows
from tasks.data.parsers._coerce import RowBuilder

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
        builders = {t: RowBuilder(c) for t, (c, _) in _TABLES.items()}
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
                kind = fields.get("35")
                if kind not in _TABLES:
                    continue
                contract, tags = _TABLES[kind]
                values = {column: fields.get(tag) for column, tag in tags.items()}
                reason = None
                if known is not None and values["symbol"] not in known:
                    reason = f"symbol: {values['symbol']!r} is not in context securities"
                builder = builders[kind]
                reason = reason or builder.add(values, number)
                if reason is not None:
                    yield Rejected(contract.table, number, reason, _raw(raw))
                elif len(builder) >= options.batch_rows:
                    batch, lines = builder.take()
                    yield Rows(contract.table, batch, lines)
        for kind, builder in builders.items():
            if len(builder):
                batch, lines = builder.take()
                yield Rows(_TABLES[kind][0].table, batch, lines)


def _known_symbols(options: ParseOptions) -> set[str] | None:
    table = options.context.get("securities")
    if table is None:
        return None
    if "symbol" not in table.column_names:
        raise ParserError("context securities has no symbol column")
    return {s for s in table.column("symbol").to_pylist() if s is not None}


def _raw(raw: bytes) -> str:
    return raw[:RAW_LIMIT].decode("latin-1").replace(SOH, "|")
