"""Several bot accounts on one database: which account is in which group, replies pinned to the account that was
asked, and the sending account kept with each claim.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add group_accounts, outbox.account and inbox.account (existing rows: any account), widen outbox.claimed_by."""
    op.create_table(
        "group_accounts",
        sa.Column("group_id", sa.String(128), primary_key=True),
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_group_accounts_account", "group_accounts", ["account"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("account", sa.String(128), nullable=False, server_default=""))
        batch.alter_column("claimed_by", type_=sa.String(255), existing_type=sa.String(128), existing_nullable=True)
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("account", sa.String(128), nullable=False, server_default=""))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("account")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("claimed_by", type_=sa.String(128), existing_type=sa.String(255), existing_nullable=True)
        batch.drop_column("account")
    op.drop_index("ix_group_accounts_account", table_name="group_accounts")
    op.drop_table("group_accounts")
