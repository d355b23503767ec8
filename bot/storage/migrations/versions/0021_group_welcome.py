"""Welcome messages for new group members: per group a switch and a text (empty: the default from BOT_WELCOME_TEXT).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add group_configs.welcome_enabled (on for every group) and welcome_text (empty: the default)."""
    with op.batch_alter_table("group_configs") as batch:
        batch.add_column(sa.Column("welcome_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("welcome_text", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    """Drop the welcome columns."""
    with op.batch_alter_table("group_configs") as batch:
        batch.drop_column("welcome_text")
        batch.drop_column("welcome_enabled")
