"""Staff console: accounts, sessions, the audit log; group trigger mode; the community of an unanswered question.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create staff_users, console_sessions and audit_log; add group_configs.trigger and unanswered community."""
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(256), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
    )
    for column in ("at", "actor", "action", "ip"):
        op.create_index(f"ix_audit_log_{column}", "audit_log", [column])
    op.add_column("group_configs", sa.Column("trigger", sa.String(16), nullable=False, server_default="keyword"))
    op.add_column("unanswered_questions", sa.Column("community", sa.String(128), nullable=False, server_default=""))
    op.create_index("ix_unanswered_questions_community", "unanswered_questions", ["community"])


def downgrade() -> None:
    """Drop the console tables and the added columns."""
    op.drop_index("ix_unanswered_questions_community", "unanswered_questions")
    with op.batch_alter_table("unanswered_questions") as batch:
        batch.drop_column("community")
    with op.batch_alter_table("group_configs") as batch:
        batch.drop_column("trigger")
    op.drop_table("audit_log")
    op.drop_table("console_sessions")
    op.drop_table("staff_users")
