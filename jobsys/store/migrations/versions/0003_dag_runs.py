"""DAG runs: a job's step, forEach item and sink flag, a run's params and definition, callbacks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON_T = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("step", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("item_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sink", sa.Boolean(), nullable=True))
        batch.create_index("ix_jobs_group_step", ["group_id", "step"])
        batch.create_index("ix_jobs_group_status", ["group_id", "status"])
    with op.batch_alter_table("job_groups") as batch:
        batch.add_column(sa.Column("params", JSON_T, nullable=True))
        batch.add_column(sa.Column("definition", JSON_T, nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
    op.create_table(
        "callback_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("spec", JSON_T, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["job_groups.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_callback_deliveries_group_id", "callback_deliveries", ["group_id"])


def downgrade() -> None:
    op.drop_index("ix_callback_deliveries_group_id", table_name="callback_deliveries")
    op.drop_table("callback_deliveries")
    with op.batch_alter_table("job_groups") as batch:
        batch.drop_column("error")
        batch.drop_column("definition")
        batch.drop_column("params")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_group_status")
        batch.drop_index("ix_jobs_group_step")
        batch.drop_column("sink")
        batch.drop_column("item_index")
        batch.drop_column("step")
