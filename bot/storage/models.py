"""SQLAlchemy 2.0 models. Schema changes go through a migration in storage/migrations/versions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, UTC out, on every backend (SQLite forgets the zone on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


class ConversationTurnRow(Base):
    """One message the assistant handled and what it replied (text masked)."""

    __tablename__ = "conversation_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    group_id: Mapped[str] = mapped_column(String(128), index=True)
    user_id: Mapped[str] = mapped_column(String(128))
    question: Mapped[str] = mapped_column(Text)
    reply: Mapped[str] = mapped_column(Text)
    answered: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    sources: Mapped[list[str]] = mapped_column(JSON)
    mode: Mapped[str] = mapped_column(String(16))
    latency_ms: Mapped[float] = mapped_column(Float)


class GroupConfigRow(Base):
    """How the assistant behaves in one group, as staff set it."""

    __tablename__ = "group_configs"

    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256))
    enabled: Mapped[bool] = mapped_column(Boolean)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    community: Mapped[str] = mapped_column(String(128))
    trigger: Mapped[str] = mapped_column(String(16), server_default="keyword")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Welcome for new members (migration 0021): off per group, or the group's own text (empty: BOT_WELCOME_TEXT)
    welcome_enabled: Mapped[bool] = mapped_column(Boolean, server_default=true())
    welcome_text: Mapped[str] = mapped_column(Text, server_default="")
    # Staff's labels for sending notices by tag (楼栋群, 商户群 …)
    tags: Mapped[list[str]] = mapped_column(JSON, server_default="[]")


class ProcessedMessageRow(Base):
    """A platform message id already handled (duplicate deliveries are answered once)."""

    __tablename__ = "processed_messages"

    message_id: Mapped[str] = mapped_column(String(191), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class InboxRow(Base):
    """A platform message as the channel converted it, recorded before it is handled: received, then handled (or
    failed after repeated attempts). Those still received after a crash are handled at the next start, in order."""

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(191), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    sender_id: Mapped[str] = mapped_column(String(128))
    sender_name: Mapped[str] = mapped_column(String(256))
    group_id: Mapped[str] = mapped_column(String(128))
    group_name: Mapped[str] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    mentions_self: Mapped[bool] = mapped_column(Boolean)
    from_self: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(64))
    last_error: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The bot account that received it: its replies go out from that account ("" with one account only)
    account: Mapped[str] = mapped_column(String(128), server_default="")


class InboxPhotoRow(Base):
    """The picture of an inbound image message as checked on arrival (the JPEG without EXIF, or why it was refused),
    kept apart from the inbox row until the message is handled, then deleted."""

    __tablename__ = "inbox_photos"

    message_id: Mapped[str] = mapped_column(String(191), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    refused: Mapped[str] = mapped_column(Text)


class OutboxRow(Base):
    """A message waiting to be sent, held by a sender under a lease, sent, failed or unconfirmed (never silently
    dropped); see bot.domain.outbox.OutboxStatus."""

    __tablename__ = "outbox"
    __table_args__ = (
        # Senders claim due rows (queued, most urgent, then oldest) and find leases run out (claimed or sending)
        Index("ix_outbox_status_priority_not_before", "status", "priority", "not_before"),
        Index("ix_outbox_status_lease_until", "status", "lease_until"),
        Index("ix_outbox_dedupe_key", "dedupe_key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    group_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    mention_ids: Mapped[list[str]] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # What the message belongs to ("reply:<inbound message id>", "question:12" …) and where it goes
    source: Mapped[str] = mapped_column(String(255), server_default="", index=True)
    target: Mapped[str] = mapped_column(String(200), server_default="")
    # SHA-256 of the caller's key (or of source, target and text): the same key is queued once
    dedupe_key: Mapped[str] = mapped_column(String(64))
    # bot.domain.outbox.SendPriority: urgent notices first, then replies, then bulk sending
    priority: Mapped[int] = mapped_column(Integer, server_default="10")
    # The sender holding the row (claimed or sending) and until when; kept on a sent row as who sent it (its bot
    # account first: bot.domain.outbox.owner_account)
    claimed_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The bot account that must send it (a reply goes out from the account that was asked); "" = any member account
    account: Mapped[str] = mapped_column(String(128), server_default="")


class GroupAccountRow(Base):
    """A bot account seen in a group (in its group list at login, or hearing a message there): a sender of that
    account claims the group's messages; a group no account was seen in is anyone's."""

    __tablename__ = "group_accounts"
    # The primary key answers "is account X in group G" and "is anyone in G" (the outbox claim); the account index
    # serves a login's "forget the groups no longer listed"
    __table_args__ = (Index("ix_group_accounts_account", "account"),)

    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime())


class UnansweredQuestionRow(Base):
    """A question the assistant could not answer (or a request for a person), waiting for staff."""

    __tablename__ = "unanswered_questions"
    # One community's open questions are read without touching the rows (near-duplicate matching, the queue)
    __table_args__ = (Index("ix_unanswered_questions_community_status", "community", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(64))
    candidates: Mapped[list[str]] = mapped_column(JSON)
    community: Mapped[str] = mapped_column(String(128), server_default="", index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    answer: Mapped[str] = mapped_column(Text)
    answered_by: Mapped[str] = mapped_column(String(128))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The question's sentence embedding (float32 bytes) and the model that made it, for joining near-duplicates
    vector: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    vector_model: Mapped[str] = mapped_column(String(128), server_default="")


class UnansweredAskerRow(Base):
    """Each resident who asked an unanswered question (near-duplicates join one question)."""

    __tablename__ = "unanswered_askers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("unanswered_questions.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    group_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    origin: Mapped[str | None] = mapped_column(String(160), unique=True, nullable=True)


class StaffUserRow(Base):
    """A console account; the password only as a salted scrypt hash."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    community: Mapped[str] = mapped_column(String(128))
    department: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean)
    must_change_password: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ConsoleSessionRow(Base):
    """A signed-in browser: only the SHA-256 of its cookie token is stored."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ip: Mapped[str] = mapped_column(String(64))


class AuditLogRow(Base):
    """One staff action (append-only)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(256))
    detail: Mapped[str] = mapped_column(Text)
    community: Mapped[str] = mapped_column(String(128))
    ip: Mapped[str] = mapped_column(String(64), index=True)


class SchedulerLeaseRow(Base):
    """Who may run scheduled jobs, and until when unless renewed (one row per lease name)."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(191))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WorkflowTransitionRow(Base):
    """One move of an entity (an unanswered question, a petition) through its workflow (append-only)."""

    __tablename__ = "workflow_transitions"
    __table_args__ = (Index("ix_workflow_transitions_kind_entity", "kind", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    note: Mapped[str] = mapped_column(Text)


class PetitionRow(Base):
    """A petition (诉求) case: its number, what and where, who reported it from which group, and where it stands.
    origin is the inbound message that made it (one message never makes two cases)."""

    __tablename__ = "petitions"
    __table_args__ = (
        # A resident's cases ("我的诉求") and the cases the expiry job closes
        Index("ix_petitions_reporter", "channel", "user_id", "status"),
        Index("ix_petitions_status_resolved_at", "status", "resolved_at"),
        # Overdue cases: open and past their deadline
        Index("ix_petitions_due_at", "due_at"),
        # The board filtered by category (and status), newest first, and its counts per status
        Index("ix_petitions_category_status_created", "category", "status", "created_at"),
        # One community's cases (through its groups) and their counts per status
        Index("ix_petitions_group_status", "group_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    group_id: Mapped[str] = mapped_column(String(128))
    group_name: Mapped[str] = mapped_column(String(256))
    user_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(128))
    urgency: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # When the case must be resolved by (its category's deadline from filing); None: no deadline
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # When it was last escalated to the street office (吹哨); None: never (the deadline job escalates only those)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The last deadline reminder sent for it ("overdue:2026-11-28"), so one is never sent twice on a day
    last_reminder: Mapped[str] = mapped_column(String(32), server_default="")
    # When the resident was asked where it is (once, at filing, when they had not said)
    location_asked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    department: Mapped[str] = mapped_column(String(128))
    handler: Mapped[str] = mapped_column(String(128))
    rating: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(191), unique=True)
    # The community of a case without a group to take it from (a 门牌码's, an Open311 jurisdiction's); "": the group's
    community: Mapped[str] = mapped_column(String(128), server_default="")


class PetitionRouteRow(Base):
    """A category's route as staff set it in the console (overriding the category file's default): the department
    its cases go to and its deadlines in hours."""

    __tablename__ = "petition_routes"

    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    department: Mapped[str] = mapped_column(String(128))
    deadline_hours: Mapped[int] = mapped_column(Integer)
    urgent_deadline_hours: Mapped[int] = mapped_column(Integer)
    edited_by: Mapped[str] = mapped_column(String(128))
    edited_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DepartmentRow(Base):
    """A department cases are dispatched to: its staff WeChat group, its WeCom group-robot key (optional) and
    whether it is the street office (街道) that 吹哨 calls in."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    wechat_group_id: Mapped[str] = mapped_column(String(128))
    wecom_key: Mapped[str] = mapped_column(String(128))
    street_office: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PetitionCounterRow(Base):
    """The last case number given in one year; taken and raised in the transaction that files a case."""

    __tablename__ = "petition_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class PendingPetitionRow(Base):
    """A complaint the resident was asked to confirm as a petition ("回复 1 确认"), kept until they answer or it
    expires; at most one per resident and group."""

    __tablename__ = "pending_petitions"
    __table_args__ = (Index("ix_pending_petitions_reporter", "channel", "group_id", "user_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(191), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    group_id: Mapped[str] = mapped_column(String(128))
    group_name: Mapped[str] = mapped_column(String(256))
    user_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(128))
    urgency: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class PendingPetitionPhotoRow(Base):
    """A picture the resident sent while their complaint waits for confirmation (the JPEG without EXIF): attached
    to the case once they confirm it, forgotten with the complaint otherwise."""

    __tablename__ = "pending_petition_photos"
    __table_args__ = (Index("ix_pending_petition_photos_origin", "origin", "sha256", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(191))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiKeyRow(Base):
    """A key an outside system (a city platform, the 12345 hotline) posts Open311 requests with: only the SHA-256 of
    the key is stored; community limits it to one jurisdiction ("" for any)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    community: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class PetitionPhotoRow(Base):
    """A photo attached to a case: the file is photos/<sha256[:2]>/<sha256>.jpg in the data directory (one per
    content hash, shared by every case that has the same picture)."""

    __tablename__ = "petition_photos"
    __table_args__ = (Index("ix_petition_photos_case", "petition_id", "sha256", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Open311UpdateRow(Base):
    """An update an outside system posted to one of our requests (POST servicerequestupdates): its own update_id,
    kept with the move it recorded, so that posting it again records nothing more."""

    __tablename__ = "open311_updates"
    __table_args__ = (Index("ix_open311_updates_key_update", "api_key_id", "update_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    api_key_id: Mapped[int] = mapped_column(Integer)
    update_id: Mapped[str] = mapped_column(String(128))
    transition_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DoorCodeRow(Base):
    """A 门牌码: the unguessable token its QR link carries, the community and place it stands for."""

    __tablename__ = "door_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    community: Mapped[str] = mapped_column(String(128), index=True)
    place: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    active: Mapped[bool] = mapped_column(Boolean)


class DoorCodeSubmissionRow(Base):
    """A petition filed on a 门牌码's page, kept for the rate limits every process counts alike: the code, the
    device (a hash of its cookie) and the address (a hash), when, and the case it made."""

    __tablename__ = "door_code_submissions"
    __table_args__ = (
        Index("ix_door_code_submissions_code_at", "code_id", "at"),
        Index("ix_door_code_submissions_device_at", "device", "at"),
        Index("ix_door_code_submissions_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("door_codes.id", ondelete="CASCADE"))
    device: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    petition_number: Mapped[str] = mapped_column(String(16))


class ExpiryItemRow(Base):
    """An item of the expiry register (到期提醒): one per community, kind and name; its due date, who to tell, and
    the last reminder sent for it (its due date and stage, compared-and-set with the reminder queued)."""

    __tablename__ = "expiry_items"
    __table_args__ = (
        UniqueConstraint("community", "kind", "what", name="uq_expiry_items_identity"),
        Index("ix_expiry_items_due", "retired", "due"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    community: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    what: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(64))
    contact: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(16))
    due: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(String(300))
    renewed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    retired: Mapped[bool] = mapped_column(Boolean)
    last_reminder: Mapped[str] = mapped_column(String(40))
    reminded_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ElderlyResidentRow(Base):
    """A resident of the elderly subsidy register (高龄津贴): name, birth month, a family contact, and which age's
    reminder went out when. Nothing else about the resident is kept."""

    __tablename__ = "elderly_residents"
    __table_args__ = (
        Index("ix_elderly_residents_identity", "community", "name", "birth_year", "birth_month", unique=True),
        Index("ix_elderly_residents_birth", "birth_year", "birth_month"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    community: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(32))
    birth_year: Mapped[int] = mapped_column(Integer)
    birth_month: Mapped[int] = mapped_column(Integer)
    contact_name: Mapped[str] = mapped_column(String(32))
    contact_phone: Mapped[str] = mapped_column(String(16))
    reminded_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    family_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class NoticeRow(Base):
    """A notice (通知公告) to many groups: its text, targets, schedule and where it stands (bot.domain.notices)."""

    __tablename__ = "notices"
    # One notice per submitted preview form (a double click, a resent form): the form's random key
    __table_args__ = (Index("ix_notices_origin", "origin", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(16))
    # {"everyone": bool, "communities": [...], "tags": [...], "group_ids": [...]}
    targets: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {"kind": ..., "at": ISO time or null, "time_of_day": "HH:MM", "weekday": 0-6, "cron": "..."}
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    author: Mapped[str] = mapped_column(String(128))
    author_username: Mapped[str] = mapped_column(String(64))
    # The community the author may reach; NULL: every community (an admin's notice)
    scope: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    edited_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    edited_by: Mapped[str] = mapped_column(String(128))
    origin: Mapped[str | None] = mapped_column(String(64), nullable=True)


class NoticeRunRow(Base):
    """One sending of a notice (its scheduled fire time, or "now-…"), recorded before its messages are queued so a
    run a crash interrupted is finished at the next start."""

    __tablename__ = "notice_runs"
    __table_args__ = (Index("ix_notice_runs_notice_run_key", "notice_id", "run_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    run_key: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    groups: Mapped[int] = mapped_column(Integer)
