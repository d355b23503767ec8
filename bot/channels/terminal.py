"""The terminal as a chat channel: one resident in a private chat, through the same router and outbox as WeChat."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from bot.domain.messages import InboundMessage, MessageKind, OutboundMessage
from bot.ports import Clock

TERMINAL = "terminal"


class TerminalGateway:
    """Prints what the assistant sends."""

    def __init__(self, write: Callable[[str], None] = print) -> None:
        self._write = write

    async def send(self, message: OutboundMessage) -> None:
        """Show one message."""
        self._write(f"小助手> {message.text}\n")


class TerminalChannel:
    """Turns typed lines into inbound messages and drains the outbox after each one."""

    def __init__(self, handle: Callable[[InboundMessage], object], drain: Callable[[], object], clock: Clock) -> None:
        self._handle = handle
        self._drain = drain
        self._clock = clock
        self._ids = itertools.count(1)

    def say(self, line: str, *, resident: str = "resident") -> None:
        """One line typed by the resident."""
        self._handle(
            InboundMessage(
                message_id=f"terminal-{self._clock.now().timestamp():.0f}-{next(self._ids)}",
                channel=TERMINAL,
                sender_id=resident,
                sender_name="居民",
                text=line,
                kind=MessageKind.TEXT,
                at=self._clock.now(),
            )
        )
        result = self._drain()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
