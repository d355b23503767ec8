"""The gates in front of the assistant: rows that end a message's walk early (ignored, not for us, too fast)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.messages import InboundMessage, MessageKind
from bot.handlers.context import Handling, MessageContext
from bot.handlers.ratelimit import SlidingWindowLimiter
from bot.handlers.table import HandlerTable
from bot.ports import Outbox
from bot.services.escalation import EscalationService

NON_TEXT_HINT = "我现在只看得懂文字，请用文字描述您的问题，我来帮您查。"
# Said once per window; what follows within the window is not answered, so the notice says so.
RATE_LIMITED_TEXT = "您发得太快了，接下来一分钟里的消息我先不回复，请过一分钟再把问题发一次。"
GROUP_BUSY_TEXT = "群里提问的人太多了，您这条我没能处理，请过一分钟再发一次。"


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Messages the assistant answers per resident and per group in one window."""

    per_resident: int = 6
    per_group: int = 30
    window: timedelta = timedelta(minutes=1)


class IgnoreBots:
    """Our own messages and other bots' are never answered (two bots would answer each other without end)."""

    name = "ignore_bots"
    priority = 10
    block = True

    def __init__(self, other_bot_ids: Iterable[str]) -> None:
        self._other_bots = frozenset(other_bot_ids)

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether we or another bot sent it."""
        return message.from_self or message.sender_id in self._other_bots

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Nothing to do."""
        return Handling("ignored_bot")


class DropDuplicates:
    """A message the platform delivers again after it was handled is handled once."""

    name = "drop_duplicates"
    priority = 20
    block = True

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether this message was handled already."""
        return self._outbox.seen(message.message_id)

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Nothing to do."""
        return Handling("duplicate")


class StaffGroup:
    """Messages in the staff group go to the staff table (answering, closing, adding to the knowledge base)."""

    name = "staff_group"
    priority = 30
    block = True

    def __init__(self, escalation: EscalationService, staff: HandlerTable) -> None:
        self._escalation = escalation
        self.staff = staff

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether it was said in the staff group."""
        return self._escalation.is_staff_group(message.group_id)

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """What the staff table does with it."""
        return self.staff.dispatch(message, context)


class DisabledGroup:
    """A group where staff turned the assistant off (or that is off until they turn it on) gets no answers; a group
    seen for the first time is registered here."""

    name = "disabled_group"
    priority = 40
    block = True

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether the message comes from a group that is switched off."""
        return context.group is not None and not context.group.enabled

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Nothing to do."""
        return Handling("group_disabled")


class NotAddressed:
    """Talk among residents that is not meant for the assistant is left alone."""

    name = "not_addressed"
    priority = 50
    block = True

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether the message is not meant for the assistant."""
        return not context.addressed.addressed

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Nothing to do."""
        return Handling("not_addressed")


class NonTextHint:
    """A picture, voice message or file meant for the assistant gets a hint to write instead."""

    name = "non_text_hint"
    priority = 60
    block = True

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether the message is anything but text."""
        return message.kind is not MessageKind.TEXT

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Queue the hint."""
        return context.queue(NON_TEXT_HINT, "non_text_hint")


class RateLimit:
    """Each resident has a limit (in each group and in private chat), and each group one more; private chats share
    no bucket. The first message over a limit in a window gets a notice, the rest of the window none."""

    name = "rate_limit"
    priority = 70
    block = True

    def __init__(self, limits: RateLimits) -> None:
        self._per_resident = SlidingWindowLimiter(limits.per_resident, limits.window)
        self._per_group = SlidingWindowLimiter(limits.per_group, limits.window)
        self._warned = SlidingWindowLimiter(1, limits.window)

    def check(self, message: InboundMessage, context: MessageContext) -> str | None:
        """Count the message; the notice for it when it is over a limit, else None."""
        if not self._per_resident.allow(f"{message.group_id}|{message.sender_id}", context.now):
            return RATE_LIMITED_TEXT
        if not message.is_private and not self._per_group.allow(message.group_id, context.now):
            return GROUP_BUSY_TEXT
        return None

    def handle(self, message: InboundMessage, context: MessageContext, match: str) -> Handling:
        """Queue the notice once a window; later messages are marked handled without a reply."""
        if self._warned.allow(f"{message.group_id}|{message.sender_id}", context.now):
            return context.queue(match, "rate_limited")
        return context.finish("rate_limited_silent")
