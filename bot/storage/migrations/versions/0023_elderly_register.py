"""The elderly subsidy register (高龄津贴双提醒): per community, each resident's name, birth year and month and one
family contact, and which age's reminder went to the cadres (and the family) when.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create elderly_residents."""
    op.create_table(
        "elderly_residents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("birth_year", sa.Integer, nullable=False),
        sa.Column("birth_month", sa.Integer, nullable=False),
        sa.Column("contact_name", sa.String(32), nullable=False),
        sa.Column("contact_phone", sa.String(16), nullable=False),
        sa.Column("reminded_age", sa.Integer, nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("family_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_elderly_residents_identity",
        "elderly_residents",
        ["community", "name", "birth_year", "birth_month"],
        unique=True,
    )
    op.create_index("ix_elderly_residents_birth", "elderly_residents", ["birth_year", "birth_month"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("elderly_residents")
