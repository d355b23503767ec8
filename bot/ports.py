"""Protocols the core depends on; concrete classes are chosen in the composition root."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from bot.domain.conversation import ConversationTurn
from bot.domain.messages import OutboundMessage


class Clock(Protocol):
    """The current time (a fake in tests)."""

    def now(self) -> datetime:
        """Timezone-aware now."""


class TurnLog(Protocol):
    """Where every handled message is recorded."""

    def record(self, turn: ConversationTurn) -> None:
        """Store one turn."""

    def recent(self, limit: int) -> Sequence[ConversationTurn]:
        """The newest turns, newest first."""

    def last_question(self, *, group_id: str, user_id: str, since: datetime) -> str | None:
        """The newest question one resident asked in one group (or privately) since a time, small talk aside."""


class ChatGateway(Protocol):
    """Sends messages on one platform account (WeChat through wechaty, the terminal …)."""

    async def send(self, message: OutboundMessage) -> None:
        """Deliver one message. On failure raise bot.domain.outbox.PermanentSendError when it can never succeed (the
        group or person is gone, the bot was removed, the platform refused it: never retried) or TransientSendError
        when it may succeed later (a timeout, a lost connection: retried with backoff). Any other exception counts as
        transient."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        return datetime.now(UTC)
