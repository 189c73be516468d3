"""data.parse as a plain function: typed tables with lineage, quarantine with reason and line,
per-file failures for bad input, and nothing written outside staging."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobsys import FatalJobError
from tasks.data import samples
from tasks.data.contracts import TableContract
from tasks.data.parse import ParseInput, parse
from tests.jobtypes.conftest import MakeContext


def _parse(make_context: MakeContext, **inputs: object) -> tuple[object, object]:
    ctx = make_context("data.parse")
    return parse(ParseInput.model_validate(inputs), ctx), ctx


def _quarantine(path: str | None) -> list[dict[str, object]]:
    assert path is not None
    return pq.read_table(path).to_pylist()


def test_fix_log_becomes_orders_and_executions_with_lineage(
    make_context: MakeContext, fix_dir: Path, catalog: str
) -> None:
    ctx = make_context("data.parse")
    out = parse(ParseInput(path=str(fix_dir / "venue_a.log"), parser="fix", catalog=catalog), ctx)
    tables = {t.table: t for t in out.tables}
    orders = pq.read_table(tables["orders"].path)
    executions = pq.read_table(tables["executions"].path)
    # 100 messages: every 10th a heartbeat, the rest alternate orders / executions
    assert (orders.num_rows, executions.num_rows) == (50, 40)
    assert out.rows == 90 and out.quarantined == 0 and not ctx.warnings
    first = orders.slice(0, 1).to_pylist()[0]
    assert first["cl_ord_id"] == "ORD2" and first["msg_seq_num"] == 2 and first["order_qty"] > 0
    assert first["_cf_job_id"] == ctx.job_id
    assert first["_cf_source_file"] == str((fix_dir / "venue_a.log").resolve())
    assert first["_cf_source_line"] == 2
    assert str(orders.schema.field("sending_time").type) == "timestamp[ms, tz=UTC]"
    lineage = json.loads((ctx.staging_dir / "_lineage.json").read_text())
    assert lineage["parser"] == "fix" and lineage["tables"] == {"orders": 50, "executions": 40}
    assert sorted(p.name for p in ctx.staging_dir.iterdir()) == [
        "_lineage.json",
        "executions.parquet",
        "orders.parquet",
    ]


def test_pipe_delimited_fix_parses_like_soh(
    make_context: MakeContext, fix_dir: Path, catalog: str
) -> None:
    out, _ = _parse(make_context, path=str(fix_dir / "venue_c.log"), parser="fix", catalog=catalog)
    assert out.rows == 90 and out.quarantined == 0  # type: ignore[attr-defined]


def test_truncated_and_corrupt_fix_messages_are_quarantined_with_reason_and_line(
    make_context: MakeContext, tmp_path: Path, catalog: str
) -> None:
    lines = samples.fix_messages(20, delimiter="|")
    lines[3] = lines[3][: len(lines[3]) // 2]  # truncated
    lines[5] = lines[5].replace("55=", "55=X", 1)  # body changed: checksum and length wrong
    lines[7] = "garbage that is not FIX"
    path = tmp_path / "bad.log"
    path.write_text("\n".join(lines) + "\n")
    ctx = make_context("data.parse")
    out = parse(ParseInput(path=str(path), parser="fix", catalog=catalog), ctx)
    rows = _quarantine(out.quarantine_path)
    assert [(r["line"], r["reason"].split(":")[0]) for r in rows] == [
        (4, "truncated message"),
        (6, "CheckSum mismatch"),
        (8, "not a FIX message (no 8=FIX)"),
    ]
    assert out.quarantined == 3 and out.rows == 15
    assert out.first_quarantine == "line 4: truncated message: no CheckSum (10=) field"
    assert ctx.warnings == [f"bad.log: 3 rows quarantined (first: {out.first_quarantine})"]


def test_csv_is_typed_by_its_contract(
    make_context: MakeContext, trades_csv: Path, catalog: str
) -> None:
    out, _ = _parse(
        make_context, path=str(trades_csv), parser="csv", contract=samples.TRADES, catalog=catalog
    )
    table = pq.read_table(out.tables[0].path)  # type: ignore[attr-defined]
    assert table.num_rows == 200
    assert [str(f.type) for f in table.schema][:5] == [
        "int64",
        "string",
        "double",
        "int64",
        "timestamp[us, tz=UTC]",
    ]
    assert table.column("_cf_source_line").to_pylist()[:3] == [2, 3, 4]
    assert table.schema.field("trade_id").nullable is False


def test_csv_rows_breaking_the_contract_are_quarantined_the_rest_kept(
    make_context: MakeContext, trades_csv: Path, catalog: str
) -> None:
    with trades_csv.open("a") as f:
        f.write("201,AAPL,not-a-price,5,2024-01-15T15:00:00+00:00,XNAS\n")  # line 202
        f.write("202,AAPL\n")  # line 203: truncated
        f.write(",MSFT,1.5,7,2024-01-15T15:00:00+00:00,\n")  # line 204: null trade_id
        f.write("205,MSFT,2.5,9,2024-01-15T15:00:00+00:00,XNYS\n")  # line 205: fine
    ctx = make_context("data.parse")
    out = parse(
        ParseInput(path=str(trades_csv), parser="csv", contract=samples.TRADES, catalog=catalog),
        ctx,
    )
    rows = sorted(_quarantine(out.quarantine_path), key=lambda r: r["line"])
    assert [(r["line"], r["reason"]) for r in rows] == [
        (
            202,
            "price: 'not-a-price' is not double (could not convert string to float: 'not-a-price')",
        ),
        (203, "expected 6 fields, found 2"),
        (204, "trade_id: missing value (the contract says not null)"),
    ]
    table = pq.read_table(out.tables[0].path)
    assert table.num_rows == 201
    last = table.slice(200).to_pylist()[0]
    assert (last["trade_id"], last["_cf_source_line"]) == (205, 205)
    assert ctx.warnings  # completed with warnings


def test_csv_missing_a_contract_column_fails_the_file(
    make_context: MakeContext, tmp_path: Path, catalog: str
) -> None:
    path = tmp_path / "short.csv"
    path.write_text("trade_id,symbol\n1,AAPL\n")
    with pytest.raises(FatalJobError, match="the header lacks a contract column.*price"):
        _parse(make_context, path=str(path), parser="csv", contract=samples.TRADES, catalog=catalog)


def test_wrong_encoding_is_a_clear_per_file_failure(
    make_context: MakeContext, tmp_path: Path, catalog: str
) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        b"trade_id,symbol,price,quantity,traded_at,venue\n"
        + "1,CAFÉ,1.0,1,2024-01-15T15:00:00+00:00,X\n".encode("latin-1")
    )
    with pytest.raises(FatalJobError, match=r"latin.csv: .*is it utf-8 text\? set encoding="):
        _parse(make_context, path=str(path), parser="csv", contract=samples.TRADES, catalog=catalog)
    out, _ = _parse(
        make_context,
        path=str(path),
        parser="csv",
        contract=samples.TRADES,
        encoding="latin-1",
        catalog=catalog,
    )
    assert pq.read_table(out.tables[0].path).column("symbol").to_pylist() == ["CAFÉ"]  # type: ignore[attr-defined]


def test_jsonl_bad_lines_are_quarantined(
    make_context: MakeContext, tmp_path: Path, catalog: str
) -> None:
    path = samples.write_jsonl(tmp_path / "t.jsonl", 10)
    with path.open("ab") as f:
        f.write(b'{"trade_id": 11, "symbol": "IBM", "price": 1.0, "quantity": 2, "traded_at"\n')
        f.write(
            b'{"trade_id": "twelve", "symbol": "IBM", "price": 1.0, "quantity": 2, '
            b'"traded_at": "2024-01-15T15:00:00+00:00"}\n'
        )
        f.write(b"[1, 2]\n")
        f.write(b'{"trade_id": 14, "symbol": "\xff\xfe", "price": 1.0}\n')
    out, _ = _parse(
        make_context, path=str(path), parser="jsonl", contract=samples.TRADES, catalog=catalog
    )
    rows = _quarantine(out.quarantine_path)  # type: ignore[attr-defined]
    assert [(r["line"], r["reason"].split(" ")[0]) for r in rows] == [
        (11, "invalid"),
        (12, "trade_id:"),
        (13, "a"),
        (14, "not"),
    ]
    assert rows[1]["reason"].startswith("trade_id: 'twelve' is not int64")
    assert out.rows == 10  # type: ignore[attr-defined]


def test_policy_can_fail_the_file_instead_of_quarantining(
    make_context: MakeContext, trades_csv: Path, catalog: str
) -> None:
    with trades_csv.open("a") as f:
        f.write("201,AAPL,oops,5,2024-01-15T15:00:00+00:00,XNAS\n")
    strict = TableContract.model_validate(
        {**samples.TRADES.model_dump(), "policy": {"fail_on_any": True}}
    )
    ctx = make_context("data.parse")
    with pytest.raises(FatalJobError, match=r"1 of 201 rows quarantined .*first: line 202: price"):
        parse(ParseInput(path=str(trades_csv), parser="csv", contract=strict, catalog=catalog), ctx)


def test_a_parser_that_raises_is_a_per_file_failure_recorded_in_history(
    make_context: MakeContext, tmp_path: Path, catalog: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.data.parsers.fix import FixParser

    def broken(self: FixParser, path: Path, options: object) -> object:
        yield from ()
        raise KeyError("tag 35")

    monkeypatch.setattr(FixParser, "parse", broken)
    path = samples.write_fix_log(tmp_path / "x.log", 5)
    with pytest.raises(FatalJobError, match=r"x.log: parser fix 1.0 raised KeyError: 'tag 35'"):
        _parse(make_context, path=str(path), parser="fix", catalog=catalog)
    import sqlite3

    rows = sqlite3.connect(catalog).execute("SELECT ok, error FROM parse_history").fetchall()
    assert rows == [(0, "x.log: parser fix 1.0 raised KeyError: 'tag 35'")]


def test_unreadable_file_fails_clearly(
    make_context: MakeContext, tmp_path: Path, catalog: str
) -> None:
    with pytest.raises(FatalJobError, match="a folder, not a file"):
        _parse(make_context, path=str(tmp_path), parser="fix", catalog=catalog)
    with pytest.raises(FatalJobError, match="no such file"):
        _parse(make_context, path=str(tmp_path / "missing.log"), parser="fix", catalog=catalog)
    with pytest.raises(FatalJobError, match="unknown parser 'nope' \\(available: csv, fix, jsonl"):
        _parse(make_context, path=str(tmp_path / "missing.log"), parser="nope", catalog=catalog)


def test_sqlite_sink(make_context: MakeContext, fix_dir: Path, catalog: str) -> None:
    import sqlite3

    out, ctx = _parse(
        make_context,
        path=str(fix_dir / "venue_b.log"),
        parser="fix",
        sink="sqlite",
        catalog=catalog,
    )
    db = sqlite3.connect(ctx.staging_dir / "tables.sqlite")  # type: ignore[attr-defined]
    assert db.execute("SELECT COUNT(*) FROM orders").fetchone() == (50,)
    assert db.execute("SELECT COUNT(DISTINCT _cf_job_id) FROM executions").fetchone() == (1,)


def test_sink_figures_are_recorded_per_output(
    make_context: MakeContext, fix_dir: Path, catalog: str
) -> None:
    from jobsys.context import NullMetrics

    out, ctx = _parse(
        make_context, path=str(fix_dir / "venue_a.log"), parser="fix", catalog=catalog
    )
    metrics = ctx.metrics  # type: ignore[attr-defined]
    assert isinstance(metrics, NullMetrics)
    by_output = {output: fig for (_, output), fig in metrics.totals.items()}
    assert by_output["orders"].rows == 50 and by_output["executions"].rows == 40
    assert by_output["orders"].bytes > 0 and by_output["orders"].latency_ms > 0
