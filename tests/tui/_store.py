"""A store holding one job of every kind seed 001 §4 draws, at fixed times (for snapshots).

Rows are inserted as the store's writers leave them (statuses, progress, outputs, runs,
sink figures), so the view reads exactly what workers would have written; the fixed
ids and times keep snapshots the same from run to run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from jobsys.store.queries import jobs, runs, sink_stats

NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
#: outputs at a fixed place, so that snapshots do not show a temporary directory
OUTPUTS = Path("/srv/jobsys/outputs")


def _ago(**kw: float) -> datetime:
    return NOW - timedelta(**kw)


def _job(n: int, job_type: str, status: str, **fields: Any) -> dict[str, Any]:
    capability = fields.pop("capability", job_type + "@1")
    started = fields.pop("started_at", _ago(minutes=20))
    finished = fields.pop("finished_at", None)
    row: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "job_type": job_type,
        "capability": capability,
        "status": status,
        "params": {},
        "attempt": 1,
        "max_attempts": 1,
        "created_at": started - timedelta(seconds=1),
        "queued_at": started - timedelta(seconds=1),
        "started_at": started if status != "QUEUED" else None,
        "finished_at": finished,
        "updated_at": finished or started,
        "items_processed": 0,
        "items_failed": 0,
    }
    row.update(fields)
    return row


def rows(stop_file: Path) -> list[dict[str, Any]]:
    """The jobs: failed parse, running backtest and export, completed ones, a waiting one."""
    out = OUTPUTS
    return [
        _job(
            1,
            "data.parse",
            "FAILED",
            params={
                "path": "/data/fix_logs/venue_nyse_20240115.log",
                "parser": "fix_parser",
                "parser_version": "1.2",
            },
            error="12 files failed: SchemaViolation at row 42",
            error_type="tasks.data.contracts.SchemaViolation",
            items_failed=12,
            items_processed=1235,
            finished_at=_ago(minutes=2),
        ),
        _job(
            2,
            "data.backtest",
            "RUNNING",
            params={
                "parser": "fix_parser",
                "parser_version": "1.3",
                "stop_file": str(stop_file),
            },
            items_processed=124,
            items_failed=16,
            items_total=500,
            started_at=_ago(minutes=3),
            updated_at=_ago(seconds=1),
        ),
        _job(
            3,
            "data.export",
            "RUNNING",
            params={"name": "concordance", "format": "dat"},
            output_path=str(out / "production_001"),
            items_processed=30521,
            items_total=45782,
            started_at=_ago(minutes=12),
            updated_at=_ago(seconds=1),
        ),
        _job(
            4,
            "data.parse",
            "COMPLETED",
            params={"path": "/data/fix_logs", "parser": "fix_parser", "parser_version": "1.2"},
            outputs={
                "parser": "fix_parser",
                "parser_version": "1.2",
                "rows": 1235,
                "tables": [],
                "quarantined": 0,
            },
            output_path=str(out / "fix_orders"),
            output_size_bytes=847_000_000,
            items_processed=1235,
            items_total=1235,
            finished_at=_ago(minutes=2, seconds=30),
        ),
        _job(
            5,
            "data.scan",
            "COMPLETED",
            params={"root": "/data/fix_logs"},
            outputs={"root": "/data/fix_logs", "files_total": 1247},
            items_processed=1247,
            items_total=1247,
            finished_at=_ago(minutes=15),
        ),
        _job(
            6,
            "data.export",
            "COMPLETED",
            params={"name": "concordance", "format": "dat"},
            outputs={
                "rows": 45782,
                "bates_first": "SMITH000001",
                "bates_last": "SMITH045782",
                "output_dir": str(out / "production_000"),
            },
            output_path=str(out / "production_000"),
            output_size_bytes=156_000_000,
            finished_at=_ago(minutes=5),
        ),
        _job(
            7,
            "data.backtest",
            "COMPLETED",
            params={"parser": "broken_parser", "parser_version": "0.1"},
            outputs={
                "parser": "broken_parser",
                "parser_version": "0.1",
                "pass_rate": 0.23,
                "files_tested": 52,
                "files_passed": 12,
                "iterations": 1,
                "high_failure_tested": 5,
                "high_failure_passed": 0,
                "termination_reason": "high_failure_early_stop",
                "first_failure": {"file": "/data/corrupt_file_001.csv", "error": "bad row"},
            },
            finished_at=_ago(minutes=30),
        ),
        _job(
            8,
            "data.backtest",
            "COMPLETED",
            params={"parser": "fix_parser", "parser_version": "1.3"},
            outputs={
                "parser": "fix_parser",
                "parser_version": "1.3",
                "pass_rate": 0.992,
                "files_tested": 500,
                "files_passed": 496,
                "iterations": 4,
                "high_failure_tested": 5,
                "high_failure_passed": 5,
                "termination_reason": "pass_rate_achieved",
            },
            finished_at=_ago(hours=1),
        ),
        _job(
            9,
            "generate_thumbnails",
            "QUEUED",
            capability="media.thumbnails@1",
            params={"source": "/media/interview.mov"},
        ),
    ]


def fill(engine: Engine, stop_file: Path) -> list[dict[str, Any]]:
    """Insert the jobs, an attempt of each finished one, and sink figures."""
    made = rows(stop_file)
    with engine.begin() as conn:
        for job in made:  # one by one: the rows set different columns
            conn.execute(insert(jobs).values(**job))
        conn.execute(
            insert(runs),
            [
                {
                    "id": j["id"].replace("-8000-", "-9000-"),
                    "job_id": j["id"],
                    "attempt": 1,
                    "job_type": j["job_type"],
                    "status": j["status"],
                    "started_at": j["started_at"],
                    "finished_at": j["finished_at"],
                    "duration_ms": 1500,
                    "error": j.get("error"),
                    "error_type": j.get("error_type"),
                }
                for j in made
                if j["finished_at"] is not None
            ],
        )
        conn.execute(
            insert(sink_stats),
            [
                {
                    "job_id": made[3]["id"],
                    "sink_uri": "parquet://output/",
                    "output": output,
                    "recorded_at": _ago(seconds=10 * i + 5),
                    "rows": rows_,
                    "bytes": rows_ * 300,
                    "writes": 4,
                    "error_count": 1 if i == 3 else 0,
                    "write_latency_ms": 10.0 + i,
                    "max_latency_ms": 40.0 + i,
                }
                for i in range(20)
                for output, rows_ in (("fix_orders", 20_000 + 1500 * (i % 7)), ("venue_data", 6000))
            ],
        )
    return made
