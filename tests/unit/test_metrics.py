"""``GET /metrics``: Prometheus figures read from a SQLite store through the API app."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from jobsys.store.queries import jobs, runs, sink_stats

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _fill(client: Any) -> None:
    rows = [
        ("a", "demo.echo", "COMPLETED", 200),
        ("b", "demo.echo", "COMPLETED", 2_000),
        ("c", "demo.explode", "FAILED", 40),
        ("d", "demo.render", "QUEUED", None),
    ]
    with client.runtime.engine.begin() as conn:
        for key, job_type, status, ms in rows:
            job_id = f"00000000-0000-4000-8000-00000000000{key}"
            capability = "demo.gpu@1" if job_type == "demo.render" else "demo.basic@1"
            conn.execute(
                insert(jobs).values(
                    id=job_id,
                    job_type=job_type,
                    capability=capability,
                    status=status,
                    params={},
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            if ms is not None:
                conn.execute(
                    insert(runs).values(
                        id=job_id.replace("-8000-", "-9000-"),
                        job_id=job_id,
                        attempt=1,
                        job_type=job_type,
                        status=status,
                        finished_at=NOW,
                        duration_ms=ms,
                    )
                )
        conn.execute(
            insert(sink_stats).values(
                job_id="00000000-0000-4000-8000-00000000000a",
                sink_uri="parquet://out/",
                output="orders",
                recorded_at=NOW,
                rows=1500,
                bytes=64_000,
                writes=3,
                error_count=2,
                write_latency_ms=4.0,
                max_latency_ms=9.0,
            )
        )


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_give_jobs_durations_sinks_and_broker_figures(
    api: Any, embedded_client: Any
) -> None:
    _fill(embedded_client)
    response = api.get("/metrics")  # open, like /healthz: no token
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = _samples(response.text)
    echo = (("capability", "demo.basic@1"), ("job_type", "demo.echo"), ("status", "COMPLETED"))
    assert got[("jobsys_jobs", echo)] == 2
    queued = (("capability", "demo.gpu@1"), ("job_type", "demo.render"), ("status", "QUEUED"))
    assert got[("jobsys_jobs", queued)] == 1
    done = (("job_type", "demo.echo"), ("status", "COMPLETED"))
    assert got[("jobsys_job_run_duration_seconds_count", done)] == 2
    assert got[("jobsys_job_run_duration_seconds_sum", done)] == 2.2
    assert (
        got[("jobsys_job_run_duration_seconds_bucket", tuple(sorted((*done, ("le", "0.5")))))] == 1
    )
    assert (
        got[("jobsys_job_run_duration_seconds_bucket", tuple(sorted((*done, ("le", "5.0")))))] == 2
    )
    sink = (("output", "orders"), ("sink_uri", "parquet://out/"))
    assert got[("jobsys_sink_rows_total", sink)] == 1500
    assert got[("jobsys_sink_bytes_total", sink)] == 64_000
    assert got[("jobsys_sink_errors_total", sink)] == 2
    # the embedded broker answers: queue depth and workers per capability (none runs here)
    assert got[("jobsys_broker_up", ())] == 1
    assert got[("jobsys_workers", (("capability", "demo.gpu@1"),))] == 0
    assert ("jobsys_queue_depth", (("capability", "demo.gpu@1"),)) in got


def test_metrics_on_an_empty_store(api: Any) -> None:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert "# TYPE jobsys_jobs gauge" in response.text
    assert "# TYPE jobsys_job_run_duration_seconds histogram" in response.text
