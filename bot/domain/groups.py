"""The chat groups the assistant serves, and how it answers in each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.messages import TriggerMode


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
    tags: tuple[str, ...] = ()  # staff's labels for targeting notices (楼栋群, 商户群 …)
