"""Outbox priority: urgent notices are sent before replies, replies before bulk sending (routine notices, reminders).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add outbox.priority (existing rows are replies and staff messages: normal) and claim by it."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="10"))
    op.drop_index("ix_outbox_status_not_before", table_name="outbox")
    op.create_index("ix_outbox_status_priority_not_before", "outbox", ["status", "priority", "not_before"])


def downgrade() -> None:
    """Drop the priority and its index."""
    op.drop_index("ix_outbox_status_priority_not_before", table_name="outbox")
    op.create_index("ix_outbox_status_not_before", "outbox", ["status", "not_before"])
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("priority")
