"""Scheduler: the lease that elects the one process running scheduled jobs, and the jobs themselves.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create scheduler_lease and scheduled_jobs (the columns APScheduler 3's SQLAlchemyJobStore uses)."""
    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(191), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "scheduled_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_scheduled_jobs_next_run_time", "scheduled_jobs", ["next_run_time"])


def downgrade() -> None:
    """Drop scheduled_jobs and scheduler_lease."""
    op.drop_table("scheduled_jobs")
    op.drop_table("scheduler_lease")
