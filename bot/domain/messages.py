"""Platform-neutral messages: what every channel converts to at its edge, and what the assistant sends back."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class MessageKind(StrEnum):
    """What a chat message carries."""

    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    VIDEO = "video"
    FILE = "file"
    LINK = "link"
    EMOTICON = "emoticon"
    RED_PACKET = "red_packet"
    SYSTEM = "system"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message as the core sees it; every lazy platform lookup was resolved by the channel."""

    message_id: str
    channel: str
    sender_id: str
    sender_name: str
    text: str
    kind: MessageKind
    at: datetime
    group_id: str = ""
    group_name: str = ""
    mentions_self: bool = False
    from_self: bool = False

    @property
    def is_private(self) -> bool:
        """A one-to-one chat rather than a group."""
        return not self.group_id


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A reply or notice to send: to a group (optionally @-mentioning people) or to one person privately."""

    channel: str
    text: str
    group_id: str = ""
    user_id: str = ""
    mention_ids: tuple[str, ...] = field(default_factory=tuple)


_MENTION_END = "\u2005\u0020\u00a0\u3000"


def strip_mentions(text: str, names: Iterable[str]) -> tuple[str, bool]:
    """Remove "@name" for any of the bot's names (typed by hand or inserted by WeChat with U+2005 after it).

    Returns the remaining text and whether one of the names was mentioned.
    """
    mentioned = False
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        pattern = re.compile(rf"[@＠]\s?{re.escape(name)}[{_MENTION_END}]*")
        text, count = pattern.subn(" ", text)
        mentioned = mentioned or count > 0
    return re.sub(r"\s+", " ", text).strip(), mentioned


class TriggerMode(StrEnum):
    """When the assistant answers in a group."""

    MENTION = "mention"
    KEYWORD = "keyword"
    ALL = "all"

    @property
    def label(self) -> str:
        """How staff see the mode."""
        return {"mention": "仅@提及", "keyword": "@提及或关键词开头", "all": "群里每条文字消息"}[self.value]
