"""Petition routing: each category's department and deadlines as staff set them, the departments directory (staff
WeChat group, WeCom robot key, street office), and when a case was last escalated (吹哨).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create petition_routes and departments; add petitions.escalated_at and last_reminder."""
    op.create_table(
        "petition_routes",
        sa.Column("category", sa.String(32), primary_key=True),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("deadline_hours", sa.Integer(), nullable=False),
        sa.Column("urgent_deadline_hours", sa.Integer(), nullable=False),
        sa.Column("edited_by", sa.String(128), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("wechat_group_id", sa.String(128), nullable=False),
        sa.Column("wecom_key", sa.String(128), nullable=False),
        sa.Column("street_office", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("petitions") as batch:
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_reminder", sa.String(32), nullable=False, server_default=""))


def downgrade() -> None:
    """Drop petitions.last_reminder and escalated_at, departments and petition_routes."""
    with op.batch_alter_table("petitions") as batch:
        batch.drop_column("last_reminder")
        batch.drop_column("escalated_at")
    op.drop_table("departments")
    op.drop_table("petition_routes")
