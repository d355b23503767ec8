"""Unanswered questions keep their sentence embedding, so near-duplicates are found without embedding them again.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add unanswered_questions.vector and vector_model, and an index of open questions per community."""
    op.add_column("unanswered_questions", sa.Column("vector", sa.LargeBinary(), nullable=True))
    op.add_column("unanswered_questions", sa.Column("vector_model", sa.String(128), nullable=False, server_default=""))
    op.create_index("ix_unanswered_questions_community_status", "unanswered_questions", ["community", "status"])


def downgrade() -> None:
    """Drop the columns and the index."""
    op.drop_index("ix_unanswered_questions_community_status", "unanswered_questions")
    with op.batch_alter_table("unanswered_questions") as batch:
        batch.drop_column("vector_model")
        batch.drop_column("vector")
