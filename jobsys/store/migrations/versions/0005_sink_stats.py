"""Sink figures of running jobs (rows, bytes, write latency per output) for the jobs view

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sink_stats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("sink_uri", sa.Text(), nullable=False),
        sa.Column("output", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("writes", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("write_latency_ms", sa.Float(), nullable=False),
        sa.Column("max_latency_ms", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sink_stats_job_id", "sink_stats", ["job_id"])
    op.create_index("ix_sink_stats_sink_uri_recorded_at", "sink_stats", ["sink_uri", "recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_sink_stats_sink_uri_recorded_at", table_name="sink_stats")
    op.drop_index("ix_sink_stats_job_id", table_name="sink_stats")
    op.drop_table("sink_stats")
