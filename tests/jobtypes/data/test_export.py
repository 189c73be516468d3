"""data.export: CSV, JSON Lines, a Parquet dataset and a Concordance DAT file with Bates numbers,
each with a manifest (files, rows, hashes) and lineage to the PARSE jobs."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobsys import FatalJobError
from tasks.data.export import ExportInput, export
from tasks.data.parse import ParseInput, ParseOutput, parse
from tests.jobtypes.conftest import MakeContext


@pytest.fixture
def parsed(make_context: MakeContext, fix_dir: Path, catalog: str) -> list[ParseOutput]:
    """The three FIX logs parsed."""
    return [
        parse(ParseInput(path=str(p), parser="fix", catalog=catalog), make_context("data.parse"))
        for p in sorted(fix_dir.iterdir())
    ]


def _items(parsed: list[ParseOutput]) -> list[dict[str, object]]:
    """What a forEach hands to its successor: each PARSE's outputs as JSON."""
    return [p.model_dump(mode="json") for p in parsed]


def test_csv_export_with_manifest_and_lineage(
    make_context: MakeContext, parsed: list[ParseOutput]
) -> None:
    ctx = make_context("data.export")
    out = export(ExportInput.model_validate({"parsed": _items(parsed), "table": "orders"}), ctx)
    assert out.rows == 150 and out.sources == 3
    with (ctx.staging_dir / "export.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 150 and rows[0]["cl_ord_id"] == "ORD2"
    manifest = json.loads((ctx.staging_dir / "manifest.json").read_text())
    (entry,) = manifest["files"]
    digest = hashlib.sha256((ctx.staging_dir / "export.csv").read_bytes()).hexdigest()
    assert entry == {"path": "export.csv", "rows": 150, "bytes": out.bytes, "sha256": digest}
    assert [x["parse_job_id"] for x in manifest["lineage"]] == [p.job_id for p in parsed]
    assert [x["rows"] for x in manifest["lineage"]] == [50, 50, 50]


def test_dat_export_numbers_records_with_bates(
    make_context: MakeContext, parsed: list[ParseOutput]
) -> None:
    ctx = make_context("data.export")
    inputs = ExportInput.model_validate(
        {
            "parsed": _items(parsed),
            "table": "executions",
            "format": "dat",
            "name": "production_001",
            "bates_prefix": "SMITH",
            "include_lineage": False,
        }
    )
    out = export(inputs, ctx)
    assert (out.bates_first, out.bates_last, out.rows) == ("SMITH000001", "SMITH000120", 120)
    raw = (ctx.staging_dir / "production_001.dat").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    lines = raw.decode("utf-8-sig").split("\r\n")
    header = lines[0].split("\x14")
    assert header[:3] == ["þBEGBATESþ", "þENDBATESþ", "þFIX_VERSIONþ"]
    assert lines[1].split("\x14")[:2] == ["þSMITH000001þ", "þSMITH000001þ"]
    assert len([x for x in lines if x]) == 121
    assert "_CF_JOB_ID" not in lines[0]


def test_parquet_dataset_and_jsonl(make_context: MakeContext, parsed: list[ParseOutput]) -> None:
    ctx = make_context("data.export")
    out = export(
        ExportInput.model_validate(
            {"parsed": _items(parsed), "table": "orders", "format": "parquet"}
        ),
        ctx,
    )
    assert [f.path for f in out.files] == [f"export/part-0000{i}.parquet" for i in range(3)]
    assert pq.read_table(ctx.staging_dir / "export").num_rows == 150
    ctx = make_context("data.export")
    export(
        ExportInput.model_validate(
            {"parsed": _items(parsed[:1]), "table": "orders", "format": "jsonl"}
        ),
        ctx,
    )
    first = json.loads((ctx.staging_dir / "export.jsonl").read_text().splitlines()[0])
    assert first["symbol"] and first["_cf_job_id"] == parsed[0].job_id


def test_export_needs_a_table_and_matching_schemas(
    make_context: MakeContext, parsed: list[ParseOutput]
) -> None:
    with pytest.raises(FatalJobError, match=r"has tables \['executions', 'orders'\]: say which"):
        export(ExportInput.model_validate({"parsed": _items(parsed)}), make_context("data.export"))
    orders = [p.tables[0].path for p in parsed]
    executions = [p.tables[1].path for p in parsed]
    with pytest.raises(FatalJobError, match="schema differs from the first input's"):
        export(ExportInput(paths=[orders[0], executions[0]]), make_context("data.export"))
    with pytest.raises(FatalJobError, match="nothing to export"):
        export(ExportInput(), make_context("data.export"))
