"""The outbox's vocabulary: where an entry stands, what a sender holds, what staff see per target, and the errors a
chat gateway raises (permanent ones are never retried, transient ones are)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

from bot.domain.errors import AssistantError
from bot.domain.messages import OutboundMessage


class OutboxStatus(StrEnum):
    """Where an outbox entry stands: queued → claimed → sending → sent, or back to queued for a retry, or failed.

    claimed: a sender holds it under a lease and has not handed it to the gateway yet; when the lease runs out
    (the sender died) it goes back to queued, nothing was sent. sending: handed to the gateway; when the lease runs out
    before the outcome is recorded it may have gone out, so it becomes unconfirmed and is not sent again by itself."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"

    @property
    def label(self) -> str:
        """How staff see the status."""
        return {
            "queued": "等待发送",
            "claimed": "准备发送",
            "sending": "正在发送",
            "sent": "已发送",
            "failed": "发送失败",
            "unconfirmed": "未确认是否发出",
        }[self.value]


class SendPriority(IntEnum):
    """Which due messages a sender takes first: urgent notices (停水, 暴雨, 燃气泄漏), then replies and staff messages,
    then bulk sending (routine notices, reminders), so a broadcast to hundreds of groups never delays an answer."""

    BULK = 0
    NORMAL = 10
    URGENT = 20


UNCONFIRMED_NOTE = "发送时进程中断：这条可能已经发出，为免在群里重复，没有重发；请到群里核对，需要时点“重发”"


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """An outbox entry a sender holds (or one due for sending)."""

    id: int
    message: OutboundMessage
    attempts: int
    source: str
    priority: SendPriority = SendPriority.NORMAL


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to one target as staff see it: what it belongs to, where it stands, why it failed."""

    id: int
    source: str
    target: str
    text: str
    status: OutboxStatus
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    # The bot account that holds or sent it ("" when its sender serves no particular account)
    account: str = ""


# A sender's name is "<account>|<host>:<pid>:<random>" when it sends as one account of several (see owner_account)
_ACCOUNT_END = "|"


def sender_owner(account: str, name: str) -> str:
    """The owner a sender records on the rows it claims: its account (when it has one) and its unique name."""
    return f"{account}{_ACCOUNT_END}{name}" if account else name


def owner_account(owner: str | None) -> str:
    """The bot account a claim's owner sends as ("" for a sender of no particular account)."""
    account, separator, _ = (owner or "").rpartition(_ACCOUNT_END)
    return account if separator else ""


@dataclass(frozen=True, slots=True)
class Membership:
    """What a bot account told about the groups it is in: its whole group list when it logs in (complete: a group
    missing from it is one the account is no longer in), a group it joined or heard a message in, or one it left."""

    account: str
    group_ids: tuple[str, ...]
    member: bool = True
    complete: bool = False


def delivery_target(message: OutboundMessage) -> str:
    """Where a message goes: its channel and group, or its channel and the person in a private chat."""
    if message.group_id:
        return f"{message.channel}:group:{message.group_id}"
    return f"{message.channel}:user:{message.user_id}"


def dedupe_digest(message: OutboundMessage, *, source: str, key: str | None) -> str:
    """The stored dedupe key: a digest of the key given, or of the source, target, mentions and text. A second
    message with the same digest is never queued."""
    if key is None:
        key = "\n".join((source, delivery_target(message), *message.mention_ids, message.text))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class SendError(AssistantError):
    """A gateway could not send a message; reason says why in Chinese, for staff."""

    default_reason = "消息没有发出去"

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason or self.default_reason
        super().__init__(self.reason)


class PermanentSendError(SendError):
    """Sending can never succeed (the group no longer exists, the bot was removed, the message was refused): the
    entry fails at once, never retried."""

    default_reason = "发不出去（群已不存在、助手已不在群里或消息被拒收）"


class TransientSendError(SendError):
    """Sending may succeed later (a timeout, a lost connection): retried with exponential backoff, or not before
    retry_after_s when the platform said how long to wait (HTTP 429's Retry-After)."""

    default_reason = "暂时发不出去（网络或微信连接问题）"

    def __init__(self, reason: str | None = None, *, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


def as_send_error(exc: Exception) -> SendError:
    """What a gateway raised, as a SendError: an unknown exception counts as transient (named by its type only: its
    message may quote the text being sent)."""
    if isinstance(exc, SendError):
        return exc
    return TransientSendError(f"发送出错（{type(exc).__name__}）")


@dataclass(frozen=True, slots=True)
class ExpiredLeases:
    """What an outbox's recover_expired settled: claims given back to the queue, and sends left unconfirmed."""

    requeued: int
    unconfirmed: tuple[Delivery, ...]
