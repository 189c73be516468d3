"""The view's pure parts: the filter's words, sparklines, bar charts, percentiles, sizes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from jobsys.tui import rendering
from jobsys.tui.filtering import JobFilter

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def job(**kw: object) -> SimpleNamespace:
    base = {
        "id": "j",
        "job_type": "data.parse",
        "status": "RUNNING",
        "capability": "data.parse@1",
        "params": {},
        "outputs": None,
        "items_processed": 0,
        "items_total": None,
        "items_failed": 0,
        "started_at": NOW - timedelta(minutes=2),
        "finished_at": None,
        "created_at": NOW,
        "updated_at": NOW,
        "output_path": None,
        "output_size_bytes": None,
        "error": None,
        "error_type": None,
    }
    return SimpleNamespace(**{**base, **kw})


def test_filter_words_are_statuses_or_parts_of_a_type() -> None:
    failed_parse = job(status="FAILED")
    running_export = job(job_type="data.export")
    assert JobFilter("failed").matches(failed_parse)
    assert not JobFilter("failed").matches(running_export)
    assert JobFilter("export").matches(running_export)
    assert not JobFilter("parse running").matches(failed_parse)
    assert JobFilter("parse export running").matches(running_export)
    assert JobFilter("").matches(failed_parse) and not JobFilter("  ").active


def test_eta_from_the_rate_so_far() -> None:
    half = job(items_processed=50, items_total=100)  # 2 minutes for half: 2 more
    assert rendering.eta(half, NOW) == "2m"
    assert rendering.eta(job(items_processed=0, items_total=100), NOW) is None
    line = rendering.detail_lines(
        job(job_type="data.export", items_processed=50, items_total=100), NOW
    )
    assert line == ["50/100 records • ETA 2m"]


def test_sparkline_scales_from_zero_and_bar_chart_fills_by_eighths() -> None:
    assert rendering.sparkline([0, 4, 8], 10) == "▁▅█"
    assert rendering.sparkline([3, 3, 3], 10) == "███"
    assert rendering.sparkline([1, 2, 3, 4], 2) == "▆█"  # the last samples that fit
    chart = rendering.bar_chart([0, 1, 2], 3, 2)
    assert chart == ["  █", " ██"]


def test_percentile_and_sizes() -> None:
    values = [float(v) for v in range(1, 101)]
    assert rendering.percentile(values, 0.5) == 50.0
    assert rendering.percentile(values, 0.99) == 99.0
    assert rendering.percentile([], 0.5) == 0.0
    assert rendering.human_bytes(847_000_000) == "847 MB"
    assert rendering.human_bytes(1_200_000_000) == "1.2 GB"
    assert rendering.human_bytes(54) == "54 B"


def test_failed_jobs_sort_first_then_running_then_waiting_then_newest() -> None:
    done_old = job(status="COMPLETED", started_at=NOW - timedelta(hours=1))
    done_new = job(status="COMPLETED", started_at=NOW)
    waiting = job(status="QUEUED")
    running = job()
    failed = job(status="FAILED", started_at=NOW - timedelta(days=3))
    ordered = sorted([done_old, done_new, waiting, running, failed], key=rendering.sort_key)
    assert ordered == [failed, running, waiting, done_new, done_old]
