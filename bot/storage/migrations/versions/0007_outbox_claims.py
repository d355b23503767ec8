"""Outbox claims: each row knows what it belongs to (source), where it goes (target) and its dedupe key, and a sender
holds the rows it works on under a lease (claimed_by, lease_until), so several senders share one outbox.

Rows from before get a unique key of their own ("legacy:<id>"); a row left sending by the stopped process becomes
unconfirmed, as the start-up did before (it may have gone out; it is not sent again).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UNCONFIRMED_NOTE = "发送时进程中断：这条可能已经发出，为免在群里重复，没有重发；请到群里核对，需要时点“重发”"


def upgrade() -> None:
    """Add source, target, dedupe_key, claimed_by and lease_until, backfill them, index the due and lease queries."""
    op.add_column("outbox", sa.Column("source", sa.String(255), nullable=False, server_default=""))
    op.add_column("outbox", sa.Column("target", sa.String(200), nullable=False, server_default=""))
    op.add_column("outbox", sa.Column("dedupe_key", sa.String(64), nullable=True))
    op.add_column("outbox", sa.Column("claimed_by", sa.String(128), nullable=True))
    op.add_column("outbox", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer()),
        sa.column("channel", sa.String()),
        sa.column("group_id", sa.String()),
        sa.column("user_id", sa.String()),
        sa.column("status", sa.String()),
        sa.column("last_error", sa.Text()),
        sa.column("target", sa.String()),
        sa.column("dedupe_key", sa.String()),
    )
    group_target = outbox.c.channel + ":group:" + outbox.c.group_id
    user_target = outbox.c.channel + ":user:" + outbox.c.user_id
    op.execute(
        outbox.update().values(
            target=sa.case((outbox.c.group_id != "", group_target), else_=user_target),
            dedupe_key="legacy:" + sa.cast(outbox.c.id, sa.String()),
        )
    )
    op.execute(
        outbox.update().where(outbox.c.status == "sending").values(status="unconfirmed", last_error=UNCONFIRMED_NOTE)
    )
    op.drop_index("ix_outbox_status", "outbox")
    op.drop_index("ix_outbox_not_before", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("dedupe_key", existing_type=sa.String(64), nullable=False)
    op.create_index("ix_outbox_dedupe_key", "outbox", ["dedupe_key"], unique=True)
    op.create_index("ix_outbox_source", "outbox", ["source"])
    op.create_index("ix_outbox_status_not_before", "outbox", ["status", "not_before"])
    op.create_index("ix_outbox_status_lease_until", "outbox", ["status", "lease_until"])


def downgrade() -> None:
    """Drop the columns and indexes; claimed rows are queued again."""
    outbox = sa.table("outbox", sa.column("status", sa.String()))
    op.execute(outbox.update().where(outbox.c.status == "claimed").values(status="queued"))
    for index in ("ix_outbox_status_lease_until", "ix_outbox_status_not_before", "ix_outbox_source"):
        op.drop_index(index, "outbox")
    op.drop_index("ix_outbox_dedupe_key", "outbox")
    with op.batch_alter_table("outbox") as batch:
        for column in ("lease_until", "claimed_by", "dedupe_key", "target", "source"):
            batch.drop_column(column)
    op.create_index("ix_outbox_status", "outbox", ["status"])
    op.create_index("ix_outbox_not_before", "outbox", ["not_before"])
