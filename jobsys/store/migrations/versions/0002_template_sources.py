"""template sources: which source owns a template, and the hash of its definition

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

``jobsys apply`` and ``jobsys sync git`` record the owning source on each template
(``source_id``, indexed: pruning asks for every template of one source) and the
sha256 of its normalized definition (``content_hash``: unchanged documents are skipped).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_id", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_job_templates_source_id"), ["source_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_templates_source_id"))
        batch_op.drop_column("content_hash")
        batch_op.drop_column("source_id")
