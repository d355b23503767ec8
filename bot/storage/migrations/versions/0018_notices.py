"""Notices (通知公告): the notices staff send to many groups, each run of one, and tags on groups to target them by.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add group_configs.tags; create notices and notice_runs."""
    with op.batch_alter_table("group_configs") as batch:
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("targets", sa.JSON, nullable=False),
        sa.Column("schedule", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("author_username", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("edited_by", sa.String(128), nullable=False),
        sa.Column("origin", sa.String(64), nullable=True),
    )
    op.create_index("ix_notices_origin", "notices", ["origin"], unique=True)
    op.create_index("ix_notices_status", "notices", ["status"])
    op.create_index("ix_notices_scope", "notices", ["scope"])
    op.create_table(
        "notice_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notice_id", sa.Integer, sa.ForeignKey("notices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("run_key", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("groups", sa.Integer, nullable=False),
    )
    op.create_index("ix_notice_runs_notice_run_key", "notice_runs", ["notice_id", "run_key"], unique=True)
    op.create_index("ix_notice_runs_state", "notice_runs", ["state"])


def downgrade() -> None:
    """Drop notice_runs, notices and group_configs.tags."""
    op.drop_table("notice_runs")
    op.drop_table("notices")
    with op.batch_alter_table("group_configs") as batch:
        batch.drop_column("tags")
