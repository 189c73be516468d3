"""Migration 0002 adds template sources to a store made by 0001, keeping its rows, and goes back."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from jobsys.settings import Settings
from jobsys.store.session import alembic_config, make_engine, upgrade


def test_0002_adds_source_columns_and_index_to_an_existing_store(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    engine = make_engine(settings)
    upgrade(engine, settings, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO job_templates (id, name, default_params, description, status, "
                "labels, annotations, created_at, updated_at) VALUES ('t1', 'old', '{}', '', "
                "'ACTIVE', '{}', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
    upgrade(engine, settings)
    columns = {c["name"] for c in inspect(engine).get_columns("job_templates")}
    assert {"source_id", "content_hash"} <= columns
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("job_templates")}
    assert indexes["ix_job_templates_source_id"] == ["source_id"]
    with engine.connect() as conn:
        row = conn.execute(text("SELECT name, source_id FROM job_templates")).one()
    assert tuple(row) == ("old", None)

    command.downgrade(alembic_config(engine), "0001")
    columns = {c["name"] for c in inspect(engine).get_columns("job_templates")}
    assert "source_id" not in columns and "content_hash" not in columns
    engine.dispose()
