"""Repositories the channel runtime needs: group configuration, the inbox, processed message ids and the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.groups import GroupConfig
from bot.domain.messages import InboundMessage, MessageKind, OutboundMessage, TriggerMode
from bot.domain.privacy import mask_personal_data
from bot.storage.models import GroupConfigRow, InboxRow, OutboxRow, ProcessedMessageRow

# Outbox: queued → sending (claimed just before the platform call) → sent, or back to queued for a retry, or failed.
# A row still sending at start-up was cut off mid-send: unconfirmed (it may have gone out; it is not sent again).
QUEUED, SENDING, SENT, FAILED, UNCONFIRMED = "queued", "sending", "sent", "failed", "unconfirmed"
# Inbox: received → handled, or failed after repeated attempts.
RECEIVED, HANDLED = "received", "handled"
UNCONFIRMED_NOTE = "发送时进程中断：这条可能已经发出，为免在群里重复，没有重发"


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """An outbox entry due for sending."""

    id: int
    message: OutboundMessage
    attempts: int


class SqlGroupConfigs:
    """Group configuration; a group seen for the first time is registered with the defaults."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        enabled_by_default: bool,
        keywords: tuple[str, ...],
        default_community: str = "",
    ) -> None:
        self._sessions = sessions
        self._enabled_by_default = enabled_by_default
        self._keywords = keywords
        self._default_community = default_community

    def get_or_register(self, *, group_id: str, channel: str, name: str, now: datetime) -> GroupConfig:
        """The group's configuration, registering it (and keeping its name current) on first sight."""
        with self._sessions.begin() as session:
            row = session.get(GroupConfigRow, group_id)
            if row is None:
                row = GroupConfigRow(
                    group_id=group_id,
                    channel=channel,
                    name=name,
                    enabled=self._enabled_by_default,
                    keywords=list(self._keywords),
                    community=self._default_community,
                    trigger=TriggerMode.KEYWORD.value,
                    updated_at=now,
                )
                session.add(row)
            elif name and row.name != name:
                row.name, row.updated_at = name, now
            return _config(row)

    def update(
        self,
        group_id: str,
        *,
        now: datetime,
        enabled: bool | None = None,
        trigger: TriggerMode | None = None,
        keywords: tuple[str, ...] | None = None,
        community: str | None = None,
    ) -> GroupConfig:
        """Staff change a group's settings (only the ones given); KeyError for an unknown group."""
        with self._sessions.begin() as session:
            row = session.get(GroupConfigRow, group_id)
            if row is None:
                raise KeyError(group_id)
            if enabled is not None:
                row.enabled = enabled
            if trigger is not None:
                row.trigger = trigger.value
            if keywords is not None:
                row.keywords = list(keywords)
            if community is not None:
                row.community = community
            row.updated_at = now
            return _config(row)

    def get(self, group_id: str) -> GroupConfig | None:
        """One group's configuration, if it was ever seen."""
        with self._sessions() as session:
            row = session.get(GroupConfigRow, group_id)
            return _config(row) if row is not None else None

    def all(self, *, community: str | None = None) -> list[GroupConfig]:
        """Every known group (only one community's if given), by community and name."""
        query = select(GroupConfigRow).order_by(GroupConfigRow.community, GroupConfigRow.name)
        if community is not None:
            query = query.where(GroupConfigRow.community == community)
        with self._sessions() as session:
            return [_config(row) for row in session.scalars(query)]

    def name_of(self, group_id: str) -> str:
        """A group's name as WeChat shows it (its id if it has none or is unknown)."""
        found = self.get(group_id)
        return found.name if found is not None and found.name else group_id

    def community_of(self, group_id: str) -> str:
        """The community a group belongs to; a private chat (or an unknown group) belongs to the default one."""
        found = self.get(group_id) if group_id else None
        return found.community if found is not None else self._default_community


def _config(row: GroupConfigRow) -> GroupConfig:
    return GroupConfig(
        row.group_id,
        row.channel,
        row.name,
        row.enabled,
        tuple(row.keywords),
        row.community,
        TriggerMode(row.trigger),
        row.updated_at,
    )


class SqlInbox:
    """Every inbound message, recorded before it is handled; what a killed process had not handled yet is handled
    at the next start. Marked handled in the transaction that queues its replies (SqlOutbox.complete)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def receive(self, message: InboundMessage, *, now: datetime) -> bool:
        """Record a message as received; False if it was received before. An InboundMessage is bounded and free of
        control characters by construction (text at most MAX_MESSAGE_CHARS), so it is stored as it is."""
        try:
            with self._sessions.begin() as session:
                session.add(
                    InboxRow(
                        message_id=message.message_id,
                        channel=message.channel,
                        sender_id=message.sender_id,
                        sender_name=message.sender_name,
                        group_id=message.group_id,
                        group_name=message.group_name,
                        text=message.text,
                        kind=message.kind.value,
                        at=message.at,
                        mentions_self=message.mentions_self,
                        from_self=message.from_self,
                        status=RECEIVED,
                        attempts=0,
                        outcome="",
                        last_error="",
                        received_at=now,
                        handled_at=None,
                    )
                )
        except IntegrityError:
            return False
        return True

    def waiting(self) -> list[InboundMessage]:
        """Messages received but not handled yet, in the order they arrived."""
        with self._sessions() as session:
            rows = session.scalars(select(InboxRow).where(InboxRow.status == RECEIVED).order_by(InboxRow.id))
            return [_inbound(row) for row in rows]

    def begin(self, message_id: str) -> int | None:
        """Count one more attempt at handling a waiting message (counted before it starts, so a message that kills
        the process is counted too) and return its number; None when the message is not waiting."""
        with self._sessions.begin() as session:
            attempts = session.execute(
                update(InboxRow)
                .where(InboxRow.message_id == message_id, InboxRow.status == RECEIVED)
                .values(attempts=InboxRow.attempts + 1)
                .returning(InboxRow.attempts)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            return int(attempts) if attempts is not None else None

    def finish(self, message_id: str, outcome: str, *, now: datetime) -> None:
        """The router is done with a message it queued nothing for (SqlOutbox.complete marks the others): handled,
        with its outcome."""
        with self._sessions.begin() as session:
            session.execute(
                update(InboxRow)
                .where(InboxRow.message_id == message_id, InboxRow.status == RECEIVED)
                .values(status=HANDLED, outcome=outcome[:64], text="", handled_at=now)
                .execution_options(synchronize_session=False)
            )

    def record_failure(self, message_id: str, reason: str, *, give_up: bool, now: datetime) -> None:
        """An attempt failed: keep the reason; when giving up, the message is failed and never tried again (its text
        kept for staff, masked like conversation turns)."""
        with self._sessions.begin() as session:
            row = session.scalars(
                select(InboxRow).where(InboxRow.message_id == message_id, InboxRow.status == RECEIVED)
            ).one_or_none()
            if row is None:
                return
            row.last_error = reason[:2000]
            if give_up:
                row.status, row.handled_at, row.text = FAILED, now, mask_personal_data(row.text)

    def counts(self) -> dict[str, int]:
        """Number of messages per status."""
        with self._sessions() as session:
            rows = session.execute(select(InboxRow.status, func.count()).group_by(InboxRow.status))
            return {status: count for status, count in rows}

    def forget_settled_before(self, cutoff: datetime) -> int:
        """Drop handled and failed messages received before cutoff (never one still waiting)."""
        with self._sessions.begin() as session:
            result = session.execute(delete(InboxRow).where(InboxRow.status != RECEIVED, InboxRow.received_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)


def _inbound(row: InboxRow) -> InboundMessage:
    return InboundMessage(
        message_id=row.message_id,
        channel=row.channel,
        sender_id=row.sender_id,
        sender_name=row.sender_name,
        text=row.text,
        kind=MessageKind(row.kind),
        at=row.at,
        group_id=row.group_id,
        group_name=row.group_name,
        mentions_self=row.mentions_self,
        from_self=row.from_self,
    )


class SqlOutbox:
    """Messages to send, with the processed-message ledger (and the inbox) written in the same transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def seen(self, message_id: str) -> bool:
        """Whether this platform message was already handled."""
        with self._sessions() as session:
            return session.get(ProcessedMessageRow, message_id) is not None

    def complete(self, message_id: str, replies: list[OutboundMessage], *, now: datetime, outcome: str = "") -> bool:
        """Mark a message handled (in the ledger and the inbox) and queue its replies atomically; False if another
        delivery got there first. Once handled, the inbox no longer keeps the resident's text."""
        try:
            with self._sessions.begin() as session:
                session.add(ProcessedMessageRow(message_id=message_id, at=now))
                session.execute(
                    update(InboxRow)
                    .where(InboxRow.message_id == message_id, InboxRow.status == RECEIVED)
                    .values(status=HANDLED, outcome=outcome[:64], text="", handled_at=now)
                    .execution_options(synchronize_session=False)
                )
                for reply in replies:
                    session.add(queued_row(reply, now))
        except IntegrityError:
            return False
        return True

    def enqueue(self, message: OutboundMessage, *, now: datetime) -> None:
        """Queue a message that answers no inbound message (notices, staff answers)."""
        with self._sessions.begin() as session:
            session.add(queued_row(message, now))

    def due(self, *, now: datetime, limit: int) -> list[QueuedMessage]:
        """Queued messages whose time has come, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(OutboxRow.status == QUEUED, OutboxRow.not_before <= now)
                .order_by(OutboxRow.not_before, OutboxRow.id)
                .limit(limit)
            )
            return [
                QueuedMessage(
                    row.id,
                    OutboundMessage(row.channel, row.text, row.group_id, row.user_id, tuple(row.mention_ids)),
                    row.attempts,
                )
                for row in rows
            ]

    def claim(self, entry_id: int) -> bool:
        """Mark a queued entry as being sent, just before the platform call; False if it is no longer queued."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(OutboxRow).where(OutboxRow.id == entry_id, OutboxRow.status == QUEUED).values(status=SENDING)
            )
            return bool(getattr(result, "rowcount", 0))

    def mark_sent(self, entry_id: int, *, now: datetime) -> None:
        """The message left the bot."""
        with self._sessions.begin() as session:
            row = session.get_one(OutboxRow, entry_id)
            row.status, row.sent_at, row.attempts = SENT, now, row.attempts + 1

    def mark_failed_attempt(self, entry_id: int, error: str, *, retry_at: datetime | None) -> None:
        """A send failed: retry at retry_at, or give up for good (None) keeping the error for staff."""
        with self._sessions.begin() as session:
            row = session.get_one(OutboxRow, entry_id)
            row.attempts += 1
            row.last_error = error[:2000]
            if retry_at is None:
                row.status = FAILED
            else:
                row.status, row.not_before = QUEUED, retry_at

    def settle_interrupted_sends(self) -> int:
        """At start-up: entries a stopped process was sending may have gone out. They are kept as unconfirmed for
        staff and not sent again (a reply twice in a group is worse than the rare lost one); how many there were."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.status == SENDING)
                .values(status=UNCONFIRMED, last_error=UNCONFIRMED_NOTE)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def counts(self) -> dict[str, int]:
        """Number of entries per status."""
        with self._sessions() as session:
            rows = session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
            return {status: count for status, count in rows}

    def forget_processed_before(self, cutoff: datetime) -> int:
        """Drop ledger entries older than cutoff (platforms redeliver within minutes, not weeks)."""
        with self._sessions.begin() as session:
            result = session.execute(delete(ProcessedMessageRow).where(ProcessedMessageRow.at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)


def queued_row(message: OutboundMessage, now: datetime) -> OutboxRow:
    """A new outbox row for message (also used by repositories that queue replies in their own transaction)."""
    return OutboxRow(
        channel=message.channel,
        group_id=message.group_id,
        user_id=message.user_id,
        mention_ids=list(message.mention_ids),
        text=message.text,
        status=QUEUED,
        attempts=0,
        not_before=now,
        last_error="",
        created_at=now,
        sent_at=None,
    )
