"""Petitions (诉求): the cases, the per-year counter their numbers come from, and complaints awaiting confirmation.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _reporter_columns() -> list[sa.Column[str]]:
    """Where a petition came from: the channel, the group and the resident."""
    return [
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("group_id", sa.String(128), nullable=False),
        sa.Column("group_name", sa.String(256), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
    ]


def upgrade() -> None:
    """Create petitions, petition_counters and pending_petitions."""
    op.create_table(
        "petitions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(16), nullable=False, unique=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        *_reporter_columns(),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("location_asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("handler", sa.String(128), nullable=False),
        sa.Column("rating", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(191), nullable=False, unique=True),
    )
    op.create_index("ix_petitions_status", "petitions", ["status"])
    op.create_index("ix_petitions_created_at", "petitions", ["created_at"])
    op.create_index("ix_petitions_reporter", "petitions", ["channel", "user_id", "status"])
    op.create_index("ix_petitions_status_resolved_at", "petitions", ["status", "resolved_at"])
    op.create_table(
        "petition_counters",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer(), nullable=False),
    )
    op.create_table(
        "pending_petitions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(191), nullable=False, unique=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        *_reporter_columns(),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_pending_petitions_reporter", "pending_petitions", ["channel", "group_id", "user_id"], unique=True
    )
    op.create_index("ix_pending_petitions_expires_at", "pending_petitions", ["expires_at"])


def downgrade() -> None:
    """Drop the petition tables."""
    op.drop_table("pending_petitions")
    op.drop_table("petition_counters")
    op.drop_table("petitions")
