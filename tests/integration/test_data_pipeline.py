"""The data pipeline on real workers (Redis + PostgreSQL): seed 000's manifest end to end
(SCAN → forEach PARSE → EXPORT), sink figures in the store, and a worker killed mid-PARSE
and mid-EXPORT: nothing partial is published, the redelivered job succeeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobsys.client import Client
from jobsys.lifecycle import GroupState, JobState
from jobsys.store import queries
from jobsys.testing import WorkerProcess, settings_from_env, wait_until
from tasks.data import samples

pytestmark = [pytest.mark.integration, pytest.mark.slow]

StartWorker = Callable[..., WorkerProcess]
DATA = [
    "data.scan@1",
    "data.parse@1",
    "data.export@1",
    "data.backtest@1",
    "data.schema@1",
    "data.materialize@1",
    "jobsys.noop@1",
]
MANIFEST = Path(__file__).parents[2] / "config" / "manifests" / "fix-pipeline.job.yaml"


def test_fix_pipeline_scans_parses_each_file_and_exports_with_bates(
    client: Client, start_worker: StartWorker, tmp_path: Path, jobsys_env: dict[str, str]
) -> None:
    logs = tmp_path / "fix_logs"
    for i in range(3):
        samples.write_fix_log(logs / f"venue_{i}.log", 40, seed=i, delimiter="|" if i else "\x01")
    with (logs / "venue_2.log").open("a") as f:
        f.write("8=FIX.4.2|9=40|35=D|34=99|49=CLIENT\n")  # truncated: quarantined
    (logs / "README.txt").write_text("not a log")
    start_worker(DATA, concurrency=2)
    assert client.apply(text=MANIFEST.read_text()).changes[0].verb in ("created", "updated")
    group_id = client.run_template("fix-pipeline", {"root": str(logs), "bates_prefix": "SMITH"})
    assert client.wait_group(group_id, 90) == GroupState.COMPLETED
    steps: dict[str, list] = {}
    for row in client.run_tasks(group_id):
        steps.setdefault(row.step, []).append(row)
    parses = [r for r in steps["parse"] if r.job_type == "data.parse"]
    assert len(parses) == 3
    by_file = {Path(r.outputs["source_file"]).name: r for r in parses}
    assert by_file["venue_2.log"].status == JobState.COMPLETED_WITH_WARNINGS.value
    assert by_file["venue_0.log"].status == JobState.COMPLETED.value
    assert by_file["venue_2.log"].outputs["quarantined"] == 1
    for row in parses:  # published under the job's output folder, read back as Parquet
        orders = row.outputs["tables"][0]
        assert orders["path"].startswith(row.output_path)
        assert pq.read_table(orders["path"]).column("_cf_job_id").unique().to_pylist() == [row.id]
    (export,) = steps["export"]
    out = export.outputs
    assert (out["rows"], out["bates_first"], out["bates_last"]) == (
        60,
        "SMITH000001",
        "SMITH000060",
    )
    dat = Path(export.output_path) / "orders.dat"
    assert dat.is_file() and (Path(export.output_path) / "manifest.json").is_file()
    staging = settings_from_env(jobsys_env).staging_root
    assert not staging.exists() or not any(staging.iterdir())
    with client.runtime.engine.connect() as conn:
        figures = queries.sink_figures(conn, [r.id for r in parses])
    orders_rows = sum(f.rows for f in figures if f.output == "orders")
    assert orders_rows == 60 and all(f.bytes > 0 and f.writes >= 1 for f in figures)


def _killed_mid_write(
    client: Client,
    start_worker: StartWorker,
    jobsys_env: dict[str, str],
    job_type: str,
    inputs: dict[str, object],
) -> tuple[str, Path]:
    """Start ``job_type``, kill its worker once it has written some rows, run a new worker."""
    first = start_worker(DATA)
    job = client.submit(job_type, **inputs)
    wait_until(
        lambda: client.job(job.id).items_processed > 0, 60, message=f"{job_type} to write rows"
    )
    settings = settings_from_env(jobsys_env)
    staging = settings.staging_root / job.id
    final = settings.outputs_root / job_type / job.id
    assert any(staging.iterdir())  # a partial output exists, in staging only
    first.kill()
    assert not final.exists()  # nothing partial was published
    start_worker(DATA)
    assert job.wait(90) == JobState.COMPLETED
    runs = [(r.status, r.error_type) for r in job.runs()]
    # Redis hands the message out again after the 5 s visibility timeout, which this job
    # may outlast: such an extra delivery is recorded SKIPPED, never run.
    assert [s for s, e in runs if e != "DuplicateDelivery"] == ["FAILED", "COMPLETED"]
    assert all(s == "SKIPPED" for s, e in runs if e == "DuplicateDelivery")
    assert not staging.exists()
    return job.id, final


def test_a_worker_killed_mid_parse_publishes_nothing_partial_and_the_retry_succeeds(
    client: Client, start_worker: StartWorker, tmp_path: Path, jobsys_env: dict[str, str]
) -> None:
    log = samples.write_fix_log(tmp_path / "big.log", 3000)
    inputs = {"path": str(log), "parser": "fix", "batch_rows": 100, "max_rows_per_second": 600}
    job_id, final = _killed_mid_write(client, start_worker, jobsys_env, "data.parse", inputs)
    orders = pq.read_table(final / "orders.parquet")
    assert orders.num_rows == 1500  # all of them, once
    assert orders.column("_cf_job_id").unique().to_pylist() == [job_id]


def test_a_worker_killed_mid_export_publishes_nothing_partial_and_the_retry_succeeds(
    client: Client, start_worker: StartWorker, tmp_path: Path, jobsys_env: dict[str, str]
) -> None:
    parsed = samples.write_csv(tmp_path / "t.csv", 3000)
    table = tmp_path / "trades.parquet"
    from pyarrow import csv as pacsv

    pq.write_table(pacsv.read_csv(parsed), table)
    inputs = {"paths": [str(table)], "format": "dat", "batch_rows": 100, "max_rows_per_second": 600}
    _, final = _killed_mid_write(client, start_worker, jobsys_env, "data.export", inputs)
    lines = (final / "export.dat").read_bytes().decode("utf-8-sig").split("\r\n")
    assert len([x for x in lines if x]) == 3001 and "DOC003000" in lines[-2]
