"""Platform-neutral messages: what every channel converts to at its edge, and what the assistant sends back."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.domain.photos import ReceivedPhoto
from bot.domain.privacy import mask_personal_data

# What the core keeps of one inbound message at most. The assistant asks residents to shorten anything over 500
# characters; a request for a person keeps its first part. Nothing longer is stored, embedded or logged.
MAX_MESSAGE_CHARS = 2000
MAX_NAME_CHARS = 128
MAX_ID_CHARS = 128
# Control characters (NUL included: PostgreSQL refuses it in text) and lone surrogates; newlines stay in texts.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_BREAK = re.compile(r"[\n\u2028\u2029]")


def plain_text(text: str, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Text fit to store: control characters and NUL removed (tabs and line breaks kept), at most limit characters."""
    return _CONTROL.sub("", text[: limit * 2])[:limit]


def one_line(text: str, *, limit: int = MAX_NAME_CHARS) -> str:
    """A name or label fit to store: no control characters or line breaks, at most limit characters."""
    return plain_text(_LINE_BREAK.sub(" ", text[: limit * 2]), limit=limit).strip()


def excerpt(text: str, limit: int) -> str:
    """A resident's or staff member's words quoted in a short message: the spaces and end punctuation around them
    dropped, and cut to limit characters with an ellipsis."""
    text = text.strip(" ？?。！!")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded_id(value: str, *, limit: int = MAX_ID_CHARS) -> str:
    """A platform id fit to store: cleaned, and when too long shortened to a prefix and a digest (still unique)."""
    value = one_line(value, limit=len(value) + 1)
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"{value[: limit - 25]}~{digest}"


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
    # The bot account that received it (several WeChat accounts may serve one database); "" when there is one only
    account: str = ""
    # A picture's bytes as the platform delivered them (never stored), and the picture as checked on arrival (kept
    # beside the inbox row until the message is handled; never in its text)
    image: bytes = field(default=b"", repr=False, compare=False)
    photo: ReceivedPhoto | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The edge of the core: whatever a platform delivers, what is kept is bounded and free of control characters.
        for name in ("message_id", "sender_id", "group_id", "account"):
            object.__setattr__(self, name, bounded_id(getattr(self, name)))
        object.__setattr__(self, "channel", one_line(self.channel, limit=32))
        # Display names are the residents' own choice, and some carry a phone number: masked like every text kept.
        object.__setattr__(self, "sender_name", mask_personal_data(one_line(self.sender_name)))
        object.__setattr__(self, "group_name", mask_personal_data(one_line(self.group_name)))
        object.__setattr__(self, "text", plain_text(self.text))

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
    # The bot account that must send it (a reply goes out from the account that was asked); "" = any account that is
    # in the group
    account: str = ""


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
