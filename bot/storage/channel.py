"""Repositories the channel runtime needs: group configuration, the inbox, processed message ids and the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Update, and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.groups import GroupConfig
from bot.domain.messages import InboundMessage, MessageKind, OutboundMessage, TriggerMode, bounded_id
from bot.domain.outbox import (
    UNCONFIRMED_NOTE,
    Delivery,
    ExpiredLeases,
    Membership,
    OutboxStatus,
    QueuedMessage,
    SendPriority,
    dedupe_digest,
    delivery_target,
    owner_account,
)
from bot.domain.photos import Photo, ReceivedPhoto
from bot.domain.privacy import mask_personal_data
from bot.storage.models import GroupAccountRow, GroupConfigRow, InboxPhotoRow, InboxRow, OutboxRow, ProcessedMessageRow

# Inbox: received → handled, or failed after repeated attempts. (The outbox's statuses: bot.domain.outbox.)
RECEIVED, HANDLED, FAILED = "received", "handled", "failed"


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
                    welcome_enabled=True,
                    welcome_text="",
                    tags=[],
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
        welcome_enabled: bool | None = None,
        welcome_text: str | None = None,
        tags: tuple[str, ...] | None = None,
    ) -> GroupConfig:
        """Staff change a group's settings (only the ones given); KeyError for an unknown group."""
        with self._sessions.begin() as session:
            row = session.get(GroupConfigRow, group_id)
            if row is None:
                raise KeyError(group_id)
            if welcome_enabled is not None:
                row.welcome_enabled = welcome_enabled
            if welcome_text is not None:
                row.welcome_text = welcome_text
            if enabled is not None:
                row.enabled = enabled
            if trigger is not None:
                row.trigger = trigger.value
            if keywords is not None:
                row.keywords = list(keywords)
            if community is not None:
                row.community = community
            if tags is not None:
                row.tags = list(tags)
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
        row.welcome_enabled,
        row.welcome_text,
        tags=tuple(row.tags or ()),
    )


class SqlGroupAccounts:
    """Which bot account is in which group, as the accounts tell (bot.domain.outbox.Membership): the outbox lets a
    sender of one account claim only the groups that account is in."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, membership: Membership, *, now: datetime) -> None:
        """Apply what an account told: its groups seen now (and, for its whole list, every other group forgotten), or
        the groups it left forgotten."""
        account, group_ids = membership.account, sorted(set(membership.group_ids))
        with self._sessions.begin() as session:
            mine = delete(GroupAccountRow).where(GroupAccountRow.account == account)
            if membership.complete:  # the whole list: a group not in it is one the account left
                session.execute(mine)
            else:  # these groups left, or seen again (written anew with the new time)
                session.execute(mine.where(GroupAccountRow.group_id.in_(group_ids)))
            if not membership.member:
                return
            session.add_all(GroupAccountRow(group_id=group, account=account, seen_at=now) for group in group_ids)

    def accounts_in(self, group_id: str) -> list[str]:
        """The bot accounts seen in a group, by name."""
        query = select(GroupAccountRow.account).where(GroupAccountRow.group_id == group_id).order_by("account")
        with self._sessions() as session:
            return list(session.scalars(query))


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
                        account=message.account,
                        status=RECEIVED,
                        attempts=0,
                        outcome="",
                        last_error="",
                        received_at=now,
                        handled_at=None,
                    )
                )
                if message.photo is not None:
                    session.add(_photo_row(message.message_id, message.photo))
        except IntegrityError:
            return False
        return True

    def waiting(self) -> list[InboundMessage]:
        """Messages received but not handled yet, in the order they arrived."""
        with self._sessions() as session:
            rows = session.scalars(select(InboxRow).where(InboxRow.status == RECEIVED).order_by(InboxRow.id)).all()
            photos = {
                row.message_id: row
                for row in session.scalars(
                    select(InboxPhotoRow).where(InboxPhotoRow.message_id.in_([r.message_id for r in rows]))
                )
            }
            return [_inbound(row, photos.get(row.message_id)) for row in rows]

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
            forget_photo(session, message_id)

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
                forget_photo(session, message_id)

    def counts(self) -> dict[str, int]:
        """Number of messages per status."""
        with self._sessions() as session:
            rows = session.execute(select(InboxRow.status, func.count()).group_by(InboxRow.status))
            return {status: count for status, count in rows}

    def forget_settled_before(self, cutoff: datetime) -> int:
        """Drop handled and failed messages received before cutoff (never one still waiting)."""
        with self._sessions.begin() as session:
            settled = select(InboxRow.message_id).where(InboxRow.status != RECEIVED, InboxRow.received_at < cutoff)
            session.execute(delete(InboxPhotoRow).where(InboxPhotoRow.message_id.in_(settled)))
            result = session.execute(delete(InboxRow).where(InboxRow.status != RECEIVED, InboxRow.received_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)


def forget_photo(session: Session, message_id: str) -> None:
    """In the caller's transaction: drop the picture kept with an inbound message (it is handled now)."""
    session.execute(delete(InboxPhotoRow).where(InboxPhotoRow.message_id == message_id))


def _photo_row(message_id: str, received: ReceivedPhoto) -> InboxPhotoRow:
    photo = received.photo or Photo("", "", 0, 0, 0)
    return InboxPhotoRow(
        message_id=message_id,
        sha256=photo.sha256,
        content_type=photo.content_type,
        size=photo.size,
        width=photo.width,
        height=photo.height,
        content=received.content,
        refused=received.refused,
    )


def _received(row: InboxPhotoRow) -> ReceivedPhoto:
    if row.refused or not row.sha256:
        return ReceivedPhoto(None, refused=row.refused)
    return ReceivedPhoto(Photo(row.sha256, row.content_type, row.size, row.width, row.height), row.content)


def _inbound(row: InboxRow, photo: InboxPhotoRow | None = None) -> InboundMessage:
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
        account=row.account,
        photo=_received(photo) if photo is not None else None,
    )


class SqlOutbox:
    """Messages to send, with the processed-message ledger (and the inbox) written in the same transaction.

    Several senders (threads or processes) share it: each claims due rows under a lease (claim_due), marks one as
    sending right before the gateway call (start_send) and records the outcome (mark_sent, mark_failed). A lease that
    runs out is settled by whichever sender looks next (recover_expired): a claimed row is queued again (it was never
    handed to the gateway), a sending row becomes unconfirmed (it may have gone out) and waits for staff (resend)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def seen(self, message_id: str) -> bool:
        """Whether this platform message was already handled."""
        with self._sessions() as session:
            return session.get(ProcessedMessageRow, message_id) is not None

    def complete(self, message_id: str, replies: list[OutboundMessage], *, now: datetime, outcome: str = "") -> bool:
        """Mark a message handled (in the ledger and the inbox) and queue its replies atomically (source
        "reply:<message id>"); False if another delivery got there first. Once handled, the inbox no longer keeps the
        resident's text."""
        try:
            with self._sessions.begin() as session:
                mark_handled(session, message_id, replies, now=now, outcome=outcome)
        except IntegrityError:
            return False
        return True

    def enqueue(
        self,
        message: OutboundMessage,
        *,
        now: datetime,
        source: str,
        dedupe_key: str | None = None,
        priority: SendPriority = SendPriority.NORMAL,
    ) -> bool:
        """Queue a message that answers no inbound message (notices, staff answers); False, queuing nothing, when the
        same dedupe key (by default: the same source, target and text) was queued before."""
        try:
            with self._sessions.begin() as session:
                session.add(queued_row(message, now, source=source, dedupe_key=dedupe_key, priority=priority))
        except IntegrityError:
            return False
        return True

    def due(self, *, now: datetime, limit: int) -> list[QueuedMessage]:
        """Queued messages whose time has come, most urgent then oldest first (what the next claim would take)."""
        with self._sessions() as session:
            rows = session.scalars(select(OutboxRow).where(*_is_due(now)).order_by(*_CLAIM_ORDER).limit(limit))
            return [_queued(row) for row in rows]

    def claim_due(
        self,
        *,
        now: datetime,
        limit: int,
        owner: str,
        lease: timedelta,
        channel: str | None = None,
        account: str | None = None,
    ) -> list[QueuedMessage]:
        """Claim up to limit due messages (only one channel's if given, only what one bot account can send if given:
        see _deliverable_by) for owner until now + lease, most urgent then oldest first, in one transaction; a row
        another sender holds is never claimed twice."""
        due = select(OutboxRow.id).where(*_is_due(now, channel, account)).order_by(*_CLAIM_ORDER).limit(limit)
        with self._sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Rows another sender's transaction is claiming are skipped, not waited for, and not taken again
                ids = list(session.scalars(due.with_for_update(of=OutboxRow, skip_locked=True)))
                if not ids:
                    return []
                chosen = OutboxRow.id.in_(ids)
            else:  # SQLite writes one statement at a time: a single UPDATE over the due rows is the compare-and-set
                chosen = OutboxRow.id.in_(due.scalar_subquery())
            rows = session.scalars(
                update(OutboxRow)
                .where(chosen, OutboxRow.status == OutboxStatus.QUEUED)
                .values(status=OutboxStatus.CLAIMED, claimed_by=owner, lease_until=now + lease)
                .returning(OutboxRow)
                .execution_options(synchronize_session=False)
            ).all()
            return [_queued(row) for row in sorted(rows, key=lambda row: (-row.priority, row.not_before, row.id))]

    def more_urgent_due(
        self, priority: SendPriority, *, now: datetime, channel: str | None = None, account: str | None = None
    ) -> bool:
        """Whether a message more urgent than priority is due (of the channel, and one the account can send, when
        given): a sender then gives back what it holds of less."""
        query = select(OutboxRow.id).where(*_is_due(now, channel, account), OutboxRow.priority > priority).limit(1)
        with self._sessions() as session:
            return session.scalar(query) is not None

    def release(self, entry_ids: Sequence[int], owner: str) -> int:
        """Give back owner's claims not yet being sent (queued again, untouched otherwise); how many were given back."""
        if not entry_ids:
            return 0
        with self._sessions.begin() as session:
            result = session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id.in_(list(entry_ids)),
                    OutboxRow.status == OutboxStatus.CLAIMED,
                    OutboxRow.claimed_by == owner,
                )
                .values(status=OutboxStatus.QUEUED, claimed_by=None, lease_until=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def start_send(self, entry_id: int, owner: str, *, now: datetime, lease: timedelta) -> bool:
        """Right before the gateway call: owner's claimed entry becomes sending, its lease renewed to cover the call;
        False if owner no longer holds it (its claim ran out and was given back)."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == entry_id,
                    OutboxRow.status == OutboxStatus.CLAIMED,
                    OutboxRow.claimed_by == owner,
                )
                .values(status=OutboxStatus.SENDING, lease_until=now + lease)
            )
            return bool(getattr(result, "rowcount", 0))

    def mark_sent(self, entry_id: int, owner: str, *, now: datetime) -> bool:
        """The gateway took the message. Also settles an entry left unconfirmed meanwhile (the call outlasted the
        lease) while owner still holds it; False if it does not."""
        return self._settle(entry_id, owner, status=OutboxStatus.SENT, sent_at=now, lease_until=None)

    def mark_failed(self, entry_id: int, owner: str, reason: str, *, retry_at: datetime | None) -> bool:
        """The gateway refused the message: queued again for retry_at (a transient error), or failed for good (None:
        a permanent error, or the last attempt), keeping the reason for staff; False if owner no longer holds it."""
        if retry_at is None:
            return self._settle(entry_id, owner, status=OutboxStatus.FAILED, last_error=reason[:2000], lease_until=None)
        return self._settle(
            entry_id,
            owner,
            status=OutboxStatus.QUEUED,
            last_error=reason[:2000],
            not_before=retry_at,
            claimed_by=None,
            lease_until=None,
        )

    def _settle(self, entry_id: int, owner: str, **values: object) -> bool:
        """Record the outcome of owner's send (one more attempt)."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == entry_id,
                    OutboxRow.status.in_((OutboxStatus.SENDING, OutboxStatus.UNCONFIRMED)),
                    OutboxRow.claimed_by == owner,
                )
                .values(attempts=OutboxRow.attempts + 1, **values)
            )
            return bool(getattr(result, "rowcount", 0))

    def recover_expired(self, *, now: datetime) -> ExpiredLeases:
        """Settle leases that ran out (their sender died or stalled), never a live sender's: claimed rows are queued
        again; sending rows become unconfirmed, with a note for staff, and are not sent again by themselves."""
        with self._sessions.begin() as session:
            requeued = session.execute(
                update(OutboxRow)
                .where(OutboxRow.status == OutboxStatus.CLAIMED, OutboxRow.lease_until <= now)
                .values(status=OutboxStatus.QUEUED, claimed_by=None, lease_until=None)
            )
            unconfirmed = session.scalars(
                update(OutboxRow)
                .where(OutboxRow.status == OutboxStatus.SENDING, OutboxRow.lease_until <= now)
                .values(status=OutboxStatus.UNCONFIRMED, last_error=UNCONFIRMED_NOTE)
                .returning(OutboxRow)
                .execution_options(synchronize_session=False)
            ).all()
            return ExpiredLeases(
                int(getattr(requeued, "rowcount", 0) or 0), tuple(_delivery(row) for row in unconfirmed)
            )

    def resend(self, entry_id: int, *, now: datetime) -> bool:
        """Staff checked the group and want an unconfirmed (or failed) entry sent again: queued now, attempts counted
        anew; False if it is in no such state."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == entry_id,
                    OutboxRow.status.in_((OutboxStatus.UNCONFIRMED, OutboxStatus.FAILED)),
                )
                .values(
                    status=OutboxStatus.QUEUED,
                    not_before=now,
                    attempts=0,
                    last_error="",
                    claimed_by=None,
                    lease_until=None,
                )
            )
            return bool(getattr(result, "rowcount", 0))

    def deliveries(self, source: str) -> list[Delivery]:
        """Every message queued for one source (a reply, a question, a notice), one per target, in queue order."""
        with self._sessions() as session:
            rows = session.scalars(select(OutboxRow).where(OutboxRow.source == source).order_by(OutboxRow.id))
            return [_delivery(row) for row in rows]

    def unconfirmed(self, *, limit: int = 200) -> list[Delivery]:
        """Entries that may or may not have gone out (their sender died mid-send), oldest first, for staff to check."""
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(OutboxRow.status == OutboxStatus.UNCONFIRMED)
                .order_by(OutboxRow.id)
                .limit(limit)
            )
            return [_delivery(row) for row in rows]

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


def mark_handled(
    session: Session, message_id: str, replies: Sequence[OutboundMessage], *, now: datetime, outcome: str
) -> None:
    """In the caller's transaction: record message_id as handled (the ledger, and the inbox, which then forgets its
    text) and queue its replies (source "reply:<message id>"). A message handled before makes the flush fail with
    IntegrityError, so a caller that also wrote what the message asked for (a petition filed) rolls that back too."""
    session.add(ProcessedMessageRow(message_id=message_id, at=now))
    session.execute(
        update(InboxRow)
        .where(InboxRow.message_id == message_id, InboxRow.status == RECEIVED)
        .values(status=HANDLED, outcome=outcome[:64], text="", handled_at=now)
        .execution_options(synchronize_session=False)
    )
    forget_photo(session, message_id)
    source = f"reply:{message_id}"
    for n, reply in enumerate(replies):
        # Keyed by position: the ledger forgets after a week, the keys keep a late redelivery out too
        session.add(queued_row(reply, now, source=source, dedupe_key=f"{source}:{n}"))


def queued_row(
    message: OutboundMessage,
    now: datetime,
    *,
    source: str,
    dedupe_key: str | None = None,
    priority: SendPriority = SendPriority.NORMAL,
) -> OutboxRow:
    """A new outbox row for message (also used by repositories that queue replies in their own transaction). The
    dedupe key defaults to the source, target and text; a second row with the same key is refused (IntegrityError)."""
    source = bounded_id(source, limit=255)
    return OutboxRow(
        channel=message.channel,
        group_id=message.group_id,
        user_id=message.user_id,
        mention_ids=list(message.mention_ids),
        text=message.text,
        status=OutboxStatus.QUEUED,
        attempts=0,
        not_before=now,
        last_error="",
        created_at=now,
        sent_at=None,
        source=source,
        target=delivery_target(message),
        dedupe_key=dedupe_digest(message, source=source, key=dedupe_key),
        claimed_by=None,
        lease_until=None,
        priority=int(priority),
        account=message.account,
    )


def queue_once(
    sessions: sessionmaker[Session],
    claim: Update,
    messages: Sequence[OutboundMessage],
    *,
    at: datetime,
    source: str,
    dedupe_prefix: str,
    priority: SendPriority = SendPriority.NORMAL,
) -> bool:
    """Run claim (a compare-and-set UPDATE marking one notice as sent, say a reminder) and queue messages (keys
    dedupe_prefix:0, :1 …, sent with priority) in one transaction; False, nothing queued, when the claim matched no
    row or the messages were queued before."""
    try:
        with sessions.begin() as session:
            claimed = session.execute(claim.execution_options(synchronize_session=False))
            if not getattr(claimed, "rowcount", 0):
                return False
            for n, message in enumerate(messages):
                key = f"{dedupe_prefix}:{n}"
                session.add(queued_row(message, at, source=source, dedupe_key=key, priority=priority))
    except IntegrityError:  # queued before (the outbox key): the notice went out
        return False
    return True


# Most urgent first, then oldest
_CLAIM_ORDER = (OutboxRow.priority.desc(), OutboxRow.not_before, OutboxRow.id)


def _is_due(now: datetime, channel: str | None = None, account: str | None = None) -> tuple[ColumnElement[bool], ...]:
    """Queued and due (of one channel, and deliverable by one account, when given)."""
    conditions = [OutboxRow.status == OutboxStatus.QUEUED, OutboxRow.not_before <= now]
    if channel is not None:
        conditions.append(OutboxRow.channel == channel)
    if account is not None:
        conditions.append(_deliverable_by(account))
    return tuple(conditions)


def _deliverable_by(account: str) -> ColumnElement[bool]:
    """Rows a sender of this bot account can deliver: pinned to it; or pinned to no account and going to a private
    chat, to a group the account was seen in, or to a group no account was seen in yet (one account, or old data).
    Answered from group_accounts' primary key (group, account)."""
    members = select(GroupAccountRow.account).where(GroupAccountRow.group_id == OutboxRow.group_id)
    return or_(
        OutboxRow.account == account,
        and_(
            OutboxRow.account == "",
            or_(
                OutboxRow.group_id == "",
                exists(members.where(GroupAccountRow.account == account)),
                ~exists(members),
            ),
        ),
    )


def _queued(row: OutboxRow) -> QueuedMessage:
    message = OutboundMessage(row.channel, row.text, row.group_id, row.user_id, tuple(row.mention_ids), row.account)
    return QueuedMessage(row.id, message, row.attempts, row.source, SendPriority(row.priority))


def _delivery(row: OutboxRow) -> Delivery:
    return Delivery(
        id=row.id,
        source=row.source,
        target=row.target,
        text=row.text,
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
        account=owner_account(row.claimed_by) or row.account,
    )
