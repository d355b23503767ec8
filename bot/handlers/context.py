"""What the handlers of one inbound message share: its context, worked out once, and the outcome they give."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from bot.domain.conversation import Question
from bot.domain.groups import GroupConfig
from bot.domain.messages import InboundMessage, MessageKind, OutboundMessage, TriggerMode, strip_mentions
from bot.ports import Clock, GroupDirectory, Outbox


@dataclass(frozen=True, slots=True)
class Handling:
    """What the router did with one message: an outcome name, the replies it queued, and whether the message was
    marked handled with that outcome (in the inbox and the ledger) in the transaction that queued them."""

    outcome: str
    replies: list[OutboundMessage] = field(default_factory=list)
    recorded: bool = False


@dataclass(frozen=True, slots=True)
class Addressed:
    """The text meant for the assistant (mentions and a trigger keyword taken off) and whether it was meant for it."""

    text: str
    addressed: bool


class MessageContext:
    """One message's facts for the handlers, each worked out on first use and then kept: the time it arrived, the text
    without mentions, its group's settings (registering a new group) and the text addressed to the assistant. It also
    holds the one way to queue a reply, which marks the message handled with it."""

    def __init__(
        self,
        message: InboundMessage,
        *,
        clock: Clock,
        groups: GroupDirectory,
        outbox: Outbox,
        bot_names: tuple[str, ...],
        awaits_choice: Callable[[str, str, str], bool],
    ) -> None:
        self.message = message
        self.now: datetime = clock.now()
        self._clock = clock
        self._groups = groups
        self._outbox = outbox
        self._bot_names = bot_names
        self._awaits_choice = awaits_choice

    @cached_property
    def _mentions_stripped(self) -> tuple[str, bool]:
        return strip_mentions(self.message.text, self._bot_names)

    @property
    def text(self) -> str:
        """The message's text without "@" the assistant."""
        return self._mentions_stripped[0]

    @cached_property
    def group(self) -> GroupConfig | None:
        """The group's settings (registered on first sight); None in a private chat."""
        message = self.message
        if message.is_private:
            return None
        return self._groups.get_or_register(
            group_id=message.group_id, channel=message.channel, name=message.group_name, now=self.now
        )

    @cached_property
    def addressed(self) -> Addressed:
        """Whether the message is meant for the assistant: a private chat, an @-mention, a pick among choices just
        offered, any text in a group that wants every message answered, or a trigger keyword in front."""
        message = self.message
        text, typed_mention = self._mentions_stripped
        if message.is_private or message.mentions_self or typed_mention:
            return Addressed(text, True)
        if self._awaits_choice(message.group_id, message.sender_id, text):
            return Addressed(text, True)  # "2" right after the choices were offered needs no @
        trigger, keywords = (self.group.trigger, self.group.keywords) if self.group else (TriggerMode.MENTION, ())
        if trigger is TriggerMode.ALL:
            # Only text counts as talking to us here: a picture in a busy group gets no "send text" hint.
            return Addressed(text, message.kind is MessageKind.TEXT)
        if trigger is TriggerMode.MENTION:
            return Addressed(text, False)
        for keyword in sorted(keywords, key=len, reverse=True):
            if text.startswith(keyword):
                return Addressed(text[len(keyword) :].lstrip(" ：:，,"), True)
        return Addressed(text, False)

    @cached_property
    def awaited(self) -> bool:
        """Whether the text answers what the assistant just asked its sender (a pick among the choices offered, a
        petition's "1" to confirm or the place asked for), so rows that would read it otherwise step aside."""
        message = self.message
        return self._awaits_choice(message.group_id, message.sender_id, self.addressed.text)

    @cached_property
    def question(self) -> Question:
        """The addressed text as a resident's question to the assistant."""
        message = self.message
        return Question(
            self.addressed.text, message.group_id, message.sender_id, message.at, message.channel, message.message_id
        )

    def queue(self, text: str, outcome: str) -> Handling:
        """Queue one reply to the sender (in their group, mentioning them; or privately) and mark the message handled
        with outcome, together; "duplicate" if another delivery of the message was handled first."""
        message = self.message
        reply = OutboundMessage(
            channel=message.channel,
            text=text,
            group_id=message.group_id,
            user_id=message.sender_id if message.is_private else "",
            mention_ids=() if message.is_private else (message.sender_id,),
            account=message.account,  # from the account that was asked (the only one a private chat reaches)
        )
        if not self._outbox.complete(message.message_id, [reply], now=self._clock.now(), outcome=outcome):
            return Handling("duplicate")
        return Handling(outcome, [reply], recorded=True)

    def finish(self, outcome: str) -> Handling:
        """Mark the message handled with outcome without replying."""
        recorded = self._outbox.complete(self.message.message_id, [], now=self.now, outcome=outcome)
        return Handling(outcome, recorded=recorded)
