"""Migration 0004 adds a run's schedule and the change stamp to a 0003 store, and goes back."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from jobsys.settings import Settings
from jobsys.store.session import alembic_config, make_engine, upgrade


def test_0004_adds_schedule_id_and_the_change_stamp_row(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    engine = make_engine(settings)
    upgrade(engine, settings, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO job_groups (id, mode, status, created_at, updated_at) "
                "VALUES ('g1', 'dag', 'COMPLETED', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
    upgrade(engine, settings)
    columns = {c["name"] for c in inspect(engine).get_columns("job_groups")}
    assert "schedule_id" in columns
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("job_groups")}
    assert indexes["ix_job_groups_schedule_id"] == ["schedule_id"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, schedule_id FROM job_groups")).one() == ("g1", None)
        assert conn.execute(text("SELECT id, version FROM schedule_changes")).one() == (1, 0)

    command.downgrade(alembic_config(engine), "0003")
    assert "schedule_id" not in {c["name"] for c in inspect(engine).get_columns("job_groups")}
    assert not inspect(engine).has_table("schedule_changes")
    engine.dispose()
