"""Sink figures: ``StoreMetrics`` batches writes into ``sink_stats`` (migration 0005) and
``queries.sink_figures`` adds them up per sink and output; a direct call keeps totals in memory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from jobsys.context import NullMetrics
from jobsys.execution.metrics import StoreMetrics
from jobsys.settings import Settings
from jobsys.store import queries, writes
from jobsys.store.session import alembic_config, make_engine, upgrade


def test_figures_are_batched_into_the_store_and_summed_per_output(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    engine = make_engine(settings)
    upgrade(engine, settings)
    with engine.begin() as conn:
        writes.insert_jobs(
            conn, [{"id": "j1", "job_type": "data.parse", "capability": "data.parse@1"}]
        )
    metrics = StoreMetrics(engine, "j1", interval=3600)  # nothing written until flushed
    metrics.sink("file:///out/orders.parquet", "orders", 100, 4000, 2.0)
    metrics.sink("file:///out/orders.parquet", "orders", 50, 2000, 6.0, errors=1)
    metrics.sink("file:///out/executions.parquet", "executions", 10, 300, 1.0)
    with engine.connect() as conn:
        assert queries.sink_figures(conn, ["j1"]) == []
    metrics.flush()
    metrics.sink("file:///out/orders.parquet", "orders", 25, 1000, 4.0)
    metrics.flush()
    metrics.flush()  # nothing pending: no row
    with engine.connect() as conn:
        rows = {r.output: r for r in queries.sink_figures(conn, ["j1"])}
        count = conn.execute(writes.sink_stats.select()).all()
    assert len(count) == 3  # orders twice (two flushes), executions once
    orders = rows["orders"]
    assert (orders.rows, orders.bytes, orders.writes, orders.errors) == (175, 7000, 3, 1)
    assert orders.mean_latency_ms == 4.0 and orders.max_latency_ms == 6.0
    assert rows["executions"].rows == 10
    command.downgrade(alembic_config(engine), "0003")
    assert "sink_stats" not in inspect(engine).get_table_names()
    engine.dispose()


def test_a_direct_call_keeps_running_totals() -> None:
    metrics = NullMetrics()
    metrics.sink("s", "t", 3, 30, 1.5)
    metrics.sink("s", "t", 2, 20, 0.5)
    fig = metrics.totals[("s", "t")]
    assert (fig.rows, fig.bytes, fig.writes, fig.latency_ms) == (5, 50, 2, 2.0)
