"""Workflow transitions: every move of an unanswered question (later a petition) from one status to the next.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create workflow_transitions."""
    op.create_table(
        "workflow_transitions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(32), nullable=False),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index("ix_workflow_transitions_kind_entity", "workflow_transitions", ["kind", "entity_id"])
    op.create_index("ix_workflow_transitions_at", "workflow_transitions", ["at"])


def downgrade() -> None:
    """Drop workflow_transitions."""
    op.drop_table("workflow_transitions")
