"""Askers remember the inbound message they came from, so a handler retried after a crash asks nothing twice.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add unanswered_askers.origin (unique; empty for askers recorded before)."""
    with op.batch_alter_table("unanswered_askers") as batch:
        batch.add_column(sa.Column("origin", sa.String(160), nullable=True))
        batch.create_unique_constraint("uq_unanswered_askers_origin", ["origin"])


def downgrade() -> None:
    """Drop unanswered_askers.origin."""
    with op.batch_alter_table("unanswered_askers") as batch:
        batch.drop_constraint("uq_unanswered_askers_origin", type_="unique")
        batch.drop_column("origin")
