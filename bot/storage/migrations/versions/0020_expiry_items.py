"""The expiry register (到期提醒): items with an owner, a contact and a due date, one per community, kind and name,
with the last reminder sent for each.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create expiry_items."""
    op.create_table(
        "expiry_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("what", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("contact", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("notes", sa.String(300), nullable=False),
        sa.Column("renewed_on", sa.Date, nullable=True),
        sa.Column("retired", sa.Boolean, nullable=False),
        sa.Column("last_reminder", sa.String(40), nullable=False),
        sa.Column("reminded_on", sa.Date, nullable=True),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("community", "kind", "what", name="uq_expiry_items_identity"),
    )
    op.create_index("ix_expiry_items_community", "expiry_items", ["community"])
    op.create_index("ix_expiry_items_due", "expiry_items", ["retired", "due"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("expiry_items")
