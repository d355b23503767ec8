"""The chat groups the assistant serves, and how it answers in each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.errors import AssistantError
from bot.domain.messages import TriggerMode, plain_text

# A welcome is read on a phone by someone who just joined: a few lines at most.
WELCOME_MAX_CHARS = 300


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """Whether and how the assistant answers in one group."""

    group_id: str
    channel: str
    name: str
    enabled: bool
    keywords: tuple[str, ...]
    community: str = ""
    trigger: TriggerMode = TriggerMode.KEYWORD
    updated_at: datetime | None = None
    welcome_enabled: bool = True
    welcome_text: str = ""
    tags: tuple[str, ...] = ()  # staff's labels for targeting notices (楼栋群, 商户群 …)

    def welcome(self, default: str) -> str:
        """The text new members are welcomed with: the group's own, or the default when staff left it empty; empty
        when this group welcomes nobody (the assistant is off here, or its welcome is)."""
        if not (self.enabled and self.welcome_enabled):
            return ""
        return self.welcome_text or default.strip()


class WelcomeTextError(AssistantError):
    """A welcome text staff entered cannot be used; the message says why, in Chinese."""


def checked_welcome_text(text: str) -> str:
    """A welcome text as stored: control characters removed, stripped (empty means the default); WelcomeTextError
    when it is longer than WELCOME_MAX_CHARS."""
    text = plain_text(text, limit=len(text) + 1).strip()
    if len(text) > WELCOME_MAX_CHARS:
        raise WelcomeTextError(
            f"欢迎语太长（{len(text)} 字），最多 {WELCOME_MAX_CHARS} 字：新成员在手机上读，几行就好。"
        )
    return text


@dataclass(frozen=True, slots=True)
class MemberJoin:
    """People who joined a group in one platform event (WeChat's room-join), resolved at the channel's edge.
    event_id names the event (a redelivered event carries the same)."""

    channel: str
    group_id: str
    group_name: str
    member_ids: tuple[str, ...]
    event_id: str

    @property
    def dedupe_key(self) -> str:
        """One welcome per group, members and join event, whatever the order members are listed in."""
        return "\n".join(("welcome", self.channel, self.group_id, ",".join(sorted(self.member_ids)), self.event_id))
