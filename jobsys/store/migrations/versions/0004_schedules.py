"""Schedules: a run's schedule_id and scheduled_for, and the change stamp beat polls

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_groups") as batch:
        batch.add_column(sa.Column("schedule_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("scheduled_for", sa.DateTime(), nullable=True))
        batch.create_foreign_key(
            "fk_job_groups_schedule_id_schedules", "schedules", ["schedule_id"], ["id"]
        )
        batch.create_index("ix_job_groups_schedule_id", ["schedule_id"])
    op.create_table(
        "schedule_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        "INSERT INTO schedule_changes (id, version, changed_at) VALUES (1, 0, CURRENT_TIMESTAMP)"
    )


def downgrade() -> None:
    op.drop_table("schedule_changes")
    with op.batch_alter_table("job_groups") as batch:
        batch.drop_index("ix_job_groups_schedule_id")
        batch.drop_constraint("fk_job_groups_schedule_id_schedules", type_="foreignkey")
        batch.drop_column("scheduled_for")
        batch.drop_column("schedule_id")
