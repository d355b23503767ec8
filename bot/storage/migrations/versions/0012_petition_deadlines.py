"""Petition deadlines: when each case must be resolved by, so overdue cases can be flagged and chased.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add petitions.due_at (null: no deadline) and its index."""
    with op.batch_alter_table("petitions") as batch:
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_petitions_due_at", "petitions", ["due_at"])


def downgrade() -> None:
    """Drop petitions.due_at."""
    op.drop_index("ix_petitions_due_at", table_name="petitions")
    with op.batch_alter_table("petitions") as batch:
        batch.drop_column("due_at")
