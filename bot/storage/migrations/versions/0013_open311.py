"""Open311: the API keys outside systems post service requests with (only a hash of each key), and the community of
a case filed through the API (it has no group to take one from).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create api_keys; add petitions.community ("" for a group's case)."""
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    with op.batch_alter_table("petitions") as batch:
        batch.add_column(sa.Column("community", sa.String(128), nullable=False, server_default=""))


def downgrade() -> None:
    """Drop petitions.community and api_keys."""
    with op.batch_alter_table("petitions") as batch:
        batch.drop_column("community")
    op.drop_table("api_keys")
