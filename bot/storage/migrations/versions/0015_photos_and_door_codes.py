"""Photos on petitions and 门牌码: the photos attached to each case, the door codes staff print, the petitions filed
from their phone page (for the rate limits). A case filed from a code keeps the code's community in
petitions.community (added in 0013).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create petition_photos, door_codes and door_code_submissions."""
    op.create_table(
        "petition_photos",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("petition_id", sa.Integer, sa.ForeignKey("petitions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_petition_photos_case", "petition_photos", ["petition_id", "sha256"], unique=True)
    op.create_table(
        "door_codes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("place", sa.String(100), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_index("ix_door_codes_community", "door_codes", ["community"])
    op.create_table(
        "door_code_submissions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("code_id", sa.Integer, sa.ForeignKey("door_codes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("petition_number", sa.String(16), nullable=False),
    )
    op.create_index("ix_door_code_submissions_code_at", "door_code_submissions", ["code_id", "at"])
    op.create_index("ix_door_code_submissions_device_at", "door_code_submissions", ["device", "at"])
    op.create_index("ix_door_code_submissions_address_at", "door_code_submissions", ["address", "at"])


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("door_code_submissions")
    op.drop_table("door_codes")
    op.drop_table("petition_photos")
