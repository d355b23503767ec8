"""Photos residents send in WeChat and updates outside systems post through Open311: inbox_photos keeps an image
message's checked picture beside its inbox row until the message is handled; pending_petition_photos keeps the
pictures sent while a complaint waits for confirmation; open311_updates keeps each posted
update's own id with the move it recorded, so a repeat records nothing more.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create inbox_photos, pending_petition_photos and open311_updates."""
    op.create_table(
        "inbox_photos",
        sa.Column("message_id", sa.String(191), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("refused", sa.Text, nullable=False),
    )
    op.create_table(
        "pending_petition_photos",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(191), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pending_petition_photos_origin", "pending_petition_photos", ["origin", "sha256"], unique=True)
    op.create_table(
        "open311_updates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("api_key_id", sa.Integer, nullable=False),
        sa.Column("update_id", sa.String(128), nullable=False),
        sa.Column("transition_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_open311_updates_key_update", "open311_updates", ["api_key_id", "update_id"], unique=True)


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_index("ix_open311_updates_key_update", table_name="open311_updates")
    op.drop_table("open311_updates")
    op.drop_index("ix_pending_petition_photos_origin", table_name="pending_petition_photos")
    op.drop_table("pending_petition_photos")
    op.drop_table("inbox_photos")
