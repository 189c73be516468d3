"""data.schema (observe, approve, show; PARSE enforcing an approved contract),
data.backtest (high-failure first, termination reasons) and data.materialize (versioned
datasets a PARSE reads as context)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobsys import FatalJobError
from tasks.data import samples
from tasks.data.backtest import BacktestInput, backtest
from tasks.data.contracts import Column, TableContract
from tasks.data.materialize import MaterializeInput, materialize
from tasks.data.parse import ParseInput, parse
from tasks.data.scan import ScanInput, scan
from tasks.data.schema import SchemaInput, schema
from tests.jobtypes.conftest import MakeContext


def _contract(*extra: Column) -> TableContract:
    return TableContract(table="trades", columns=[*samples.TRADES.columns, *extra])


def test_approve_then_drift_fails_parse(
    make_context: MakeContext, trades_csv: Path, catalog: str
) -> None:
    approved = schema(
        SchemaInput(
            action="approve", parser="csv", contract=_contract(), by="alice", catalog=catalog
        ),
        make_context("data.schema"),
    )
    (table,) = approved.tables
    assert table.approved_by == "alice" and table.drift == []
    inputs = {"path": str(trades_csv), "parser": "csv", "catalog": catalog}
    parse(
        ParseInput.model_validate({**inputs, "contract": _contract()}), make_context("data.parse")
    )
    drifted = TableContract(
        table="trades",
        columns=[
            c.model_copy(update={"type": "float64"}) if c.name == "quantity" else c
            for c in samples.TRADES.columns
        ],
    )
    with pytest.raises(
        FatalJobError,
        match=r"schema drift: csv 1.0 table trades .*alice.*~ quantity: int64 -> float64",
    ):
        parse(
            ParseInput.model_validate({**inputs, "contract": drifted}), make_context("data.parse")
        )
    shown = schema(
        SchemaInput(action="show", parser="csv", contract=drifted, catalog=catalog),
        make_context("data.schema"),
    )
    assert shown.tables[0].drift == ["~ quantity: int64 -> float64"]
    # with schema_policy=off the drifted contract parses
    parse(
        ParseInput.model_validate({**inputs, "contract": drifted, "schema_policy": "off"}),
        make_context("data.parse"),
    )


def test_policy_approved_requires_an_approval(
    make_context: MakeContext, fix_dir: Path, catalog: str
) -> None:
    with pytest.raises(FatalJobError, match="no approved contract for fix.orders"):
        parse(
            ParseInput(
                path=str(fix_dir / "venue_a.log"),
                parser="fix",
                schema_policy="approved",
                catalog=catalog,
            ),
            make_context("data.parse"),
        )


def test_observe_records_the_output_schema_and_its_difference(
    make_context: MakeContext, fix_dir: Path, catalog: str
) -> None:
    out = parse(
        ParseInput(path=str(fix_dir / "venue_a.log"), parser="fix", catalog=catalog),
        make_context("data.parse"),
    )
    observed = schema(
        SchemaInput(action="observe", parser="fix", parsed=[out.model_dump()], catalog=catalog),
        make_context("data.schema"),
    )
    assert {t.table: t.observed_changes for t in observed.tables} == {
        "orders": [],
        "executions": [],
    }
    ctx = make_context("data.schema")
    schema(
        SchemaInput(action="approve", parser="fix", approve="observed", by="bob", catalog=catalog),
        ctx,
    )
    artifact = json.loads((ctx.staging_dir / "contract-orders.json").read_text())
    assert artifact["approved_by"] == "bob" and artifact["columns"][0]["name"] == "fix_version"
    with pytest.raises(ValueError, match="approve needs by="):
        SchemaInput(action="approve", parser="fix")


def _corpus(tmp_path: Path, good: int, bad: int) -> Path:
    folder = tmp_path / "corpus"
    for i in range(good):
        samples.write_fix_log(folder / f"good_{i:02d}.log", 20, seed=i)
    for i in range(bad):
        path = folder / f"bad_{i:02d}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(samples.fix_messages(3)[0][:30] + "\n")  # truncated
    return folder


def test_backtest_tries_high_failure_files_first_and_writes_nothing(
    make_context: MakeContext, tmp_path: Path, catalog: str
) -> None:
    folder = _corpus(tmp_path, good=6, bad=2)
    scan(ScanInput(root=str(folder), catalog=catalog), make_context("data.scan"))
    # an earlier PARSE of bad_01 quarantined rows: it is a high-failure file now
    parse(
        ParseInput(path=str(folder / "bad_01.log"), parser="fix", catalog=catalog),
        make_context("data.parse"),
    )
    ctx = make_context("data.backtest")
    out = backtest(
        BacktestInput.model_validate(
            {
                "parser": "fix",
                "selection": {"source": "corpus"},
                "catalog": catalog,
                "sample": 3,
                "target_pass_rate": 1.0,
            }
        ),
        ctx,
    )
    assert out.first_failure is not None and out.first_failure.file.endswith("bad_01.log")
    assert out.first_failure.error.startswith("truncated message") and out.first_failure.line == 1
    assert (out.high_failure_tested, out.high_failure_passed) == (1, 0)
    assert (out.files_tested, out.files_passed, out.files_failed) == (8, 6, 2)
    assert out.termination_reason == "all_files_tested" and out.iterations == 2
    assert out.pass_rate == pytest.approx(0.75)
    assert sorted(p.name for p in ctx.staging_dir.iterdir()) == ["backtest_report.json"]
    assert ctx.warnings and "pass rate 75.0% (6/8) below 100%" in ctx.warnings[0]
    assert ctx.progress.processed == 8  # type: ignore[attr-defined]


def test_backtest_termination_reasons(
    make_context: MakeContext, tmp_path: Path, catalog: str
) -> None:
    folder = _corpus(tmp_path, good=8, bad=3)
    files = sorted(str(p) for p in folder.iterdir())
    for bad in files[:3]:  # every bad file failed before
        parse(ParseInput(path=bad, parser="fix", catalog=catalog), make_context("data.parse"))

    def run(**extra: object) -> str:
        inputs = {"parser": "fix", "paths": files, "catalog": catalog, **extra}
        return backtest(BacktestInput.model_validate(inputs), make_context()).termination_reason

    assert run(early_stop_after=2) == "high_failure_early_stop"
    assert run(early_stop_after=5, sample=4, target_pass_rate=0.5) == "pass_rate_achieved"
    assert run(early_stop_after=5, sample=4, max_iterations=1) == "max_iterations"
    assert run(early_stop_after=5, sample=2, plateau_delta=0.5) == "plateau"
    stop = tmp_path / "stop"
    stop.touch()
    assert run(stop_file=str(stop)) == "user_stopped"


def test_materialize_versions_and_parse_reads_it_as_context(
    make_context: MakeContext, tmp_path: Path, catalog: str
) -> None:
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "securities_1.csv").write_text("symbol,name\nAAPL,Apple\nMSFT,Microsoft\n")
    (ref / "securities_2.csv").write_text("symbol,name\nGOOG,Alphabet\nAMZN,Amazon\nNVDA,Nvidia\n")
    scan(
        ScanInput(root=str(ref), tags={"reference_data": ["securities_*.csv"]}, catalog=catalog),
        make_context("data.scan"),
    )
    contract = TableContract(
        table="securities", columns=[Column(name="symbol", nullable=False), Column(name="name")]
    )
    inputs = MaterializeInput.model_validate(
        {
            "name": "securities",
            "selection": {"tag": "reference_data"},
            "parser": "csv",
            "contract": contract.model_dump(),
            "catalog": catalog,
        }
    )
    ctx = make_context("data.materialize")
    first = materialize(inputs, ctx)
    assert (first.version, first.created, first.rows, first.files) == (1, True, 5, 2)
    manifest = json.loads((ctx.staging_dir / "manifest.json").read_text())
    assert manifest["selection"] == {"tag": "reference_data"}
    assert [Path(i["path"]).name for i in manifest["inputs"]] == [
        "securities_1.csv",
        "securities_2.csv",
    ]
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    data = pq.read_table(ctx.staging_dir / "data.parquet")
    assert set(data.column("_cf_job_id").to_pylist()) == {ctx.job_id}
    again = materialize(inputs, make_context("data.materialize"))
    assert (again.version, again.created) == (1, False)  # unchanged inputs: no new version
    # A PARSE with the dataset as context rejects orders for symbols it lacks.
    log = samples.write_fix_log(tmp_path / "orders.log", 60)
    ctx = make_context("data.parse")
    out = parse(
        ParseInput.model_validate(
            {
                "path": str(log),
                "parser": "fix",
                "catalog": catalog,
                "context": [{"name": "securities"}],
            }
        ),
        ctx,
    )
    assert out.context == [{"name": "securities", "version": 1, "path": first.path}]
    reasons = {r["reason"] for r in pq.read_table(out.quarantine_path).to_pylist()}
    assert reasons and all("is not in context securities" in r for r in reasons)
    kept = pq.read_table(out.tables[0].path).column("symbol").to_pylist()
    assert set(kept) <= {"AAPL", "MSFT", "GOOG", "AMZN", "NVDA"}
    (ref / "securities_1.csv").write_text("symbol,name\nAAPL,Apple\nMSFT,Microsoft\nIBM,IBM\n")
    scan(
        ScanInput(root=str(ref), tags={"reference_data": ["securities_*.csv"]}, catalog=catalog),
        make_context("data.scan"),
    )
    assert materialize(inputs, make_context("data.materialize")).version == 2
    with pytest.raises(FatalJobError, match="no published dataset 'missing'"):
        parse(
            ParseInput.model_validate(
                {
                    "path": str(log),
                    "parser": "fix",
                    "catalog": catalog,
                    "context": [{"name": "missing"}],
                }
            ),
            make_context(),
        )
