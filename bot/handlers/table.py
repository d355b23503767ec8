"""Handler tables: the rows a message is offered to, lowest priority number first, until one that blocks takes it."""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, TypeVar

from bot.domain.messages import InboundMessage
from bot.handlers.context import Handling, MessageContext

Match = TypeVar("Match")


class Handler(Protocol[Match]):
    """One row of a table. check says whether the message is for this row: None or False for no; anything else (True,
    or what handle needs, such as a parsed question number, even 0) is a match and is passed on to handle. A row that
    blocks ends the walk with its handling; one that does not lets the rows after it run too, so it must not queue a
    reply (only one reply marks a message handled)."""

    @property
    def name(self) -> str:
        """The row's name, as the table lists it."""

    @property
    def priority(self) -> int:
        """Where the row sits: lower numbers run first; rows of equal priority run in the order they were added."""

    @property
    def block(self) -> bool:
        """Whether a match ends the walk."""

    def check(self, message: InboundMessage, context: MessageContext) -> Match | None:
        """None or False when the message is not for this row; otherwise True or what handle needs."""

    def handle(self, message: InboundMessage, context: MessageContext, match: Match) -> Handling:
        """Act on a matched message."""


class HandlerTable:
    """Handlers kept in priority order, stable for equal priorities; dispatch offers a message to each in turn."""

    def __init__(self, handlers: Iterable[Handler[Any]] = ()) -> None:
        self._rows: list[Handler[Any]] = []
        for handler in handlers:
            self.add(handler)

    def add(self, handler: Handler[Any]) -> None:
        """Put a handler after every row of lower or equal priority."""
        insort(self._rows, handler, key=lambda row: row.priority)

    def __iter__(self) -> Iterator[Handler[Any]]:
        return iter(self._rows)

    def dispatch(self, message: InboundMessage, context: MessageContext) -> Handling:
        """The handling of the first matching row that blocks; without one, the last matching row's, else
        "unhandled"."""
        handling = Handling("unhandled")
        for row in self._rows:
            match = row.check(message, context)
            if match is None or match is False:
                continue
            handling = row.handle(message, context, match)
            if row.block:
                break
        return handling
