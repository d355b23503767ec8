"""Routing petitions (派单): which department a category's cases go to and how long they may take, the departments
staff dispatch to (with where each is told: its staff WeChat group, its WeCom group robot), and 吹哨报到 — calling in
the street office when a case crosses departments or runs late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.errors import AssistantError
from bot.domain.petitions import PetitionCategory, Urgency

# The channel the outbox sends to a WeCom group robot on (group_id: the robot's webhook key).
WECOM_CHANNEL = "wecom"
# Bounds staff may set on a deadline: at least an hour, at most 90 days.
MIN_DEADLINE_HOURS = 1
MAX_DEADLINE_HOURS = 24 * 90
NAME_CHARS = 64
GROUP_ID_CHARS = 128
ROBOT_KEY_CHARS = 128


class RoutingError(AssistantError):
    """A route or department staff entered that cannot be kept; the message says why in Chinese."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where a category's cases go by default and how long they may take (hours; an urgent case the shorter
    urgent deadline). edited_by is who last changed it in the console ("" : the category file's default)."""

    category: str
    department: str
    deadline_hours: int
    urgent_deadline_hours: int
    edited_by: str = ""
    edited_at: datetime | None = None

    @classmethod
    def of(cls, category: PetitionCategory) -> Route:
        """The default route the category file gives a category."""
        return cls(category.name, category.department, category.deadline_hours, category.urgent_deadline_hours)

    def deadline(self, urgency: Urgency) -> timedelta:
        """How long a case of this urgency may take from filing to resolved."""
        hours = self.urgent_deadline_hours if urgency is Urgency.URGENT else self.deadline_hours
        return timedelta(hours=hours)

    @property
    def edited(self) -> bool:
        """Whether staff changed it from the category file's default."""
        return bool(self.edited_by)


def checked_route(category: str, department: str, deadline_hours: int, urgent_deadline_hours: int) -> Route:
    """A route as staff entered it, trimmed and checked (RoutingError with the reason otherwise)."""
    department = " ".join(department.split())[:NAME_CHARS]
    for hours in (deadline_hours, urgent_deadline_hours):
        if not MIN_DEADLINE_HOURS <= hours <= MAX_DEADLINE_HOURS:
            raise RoutingError(f"办理期限应在 {MIN_DEADLINE_HOURS} 到 {MAX_DEADLINE_HOURS} 小时之间")
    if urgent_deadline_hours > deadline_hours:
        raise RoutingError("紧急诉求的期限不能比一般诉求长")
    return Route(category, department, deadline_hours, urgent_deadline_hours)


@dataclass(frozen=True, slots=True)
class Department:
    """A department cases are dispatched to: its name (as on cases and handlers' accounts), its staff WeChat group,
    its WeCom group-robot key (optional) and whether it is the street office (街道, whom 吹哨 calls in)."""

    name: str
    wechat_group_id: str = ""
    wecom_key: str = ""
    street_office: bool = False

    @property
    def reachable(self) -> bool:
        """Whether a notice to it goes anywhere (a WeChat group or a robot)."""
        return bool(self.wechat_group_id or self.wecom_key)

    def reached_by(self, group_name: str) -> list[str]:
        """How a notice reaches it, as the case history says: "微信群“物业群”", "企业微信机器人"."""
        ways = [f"微信群“{group_name or self.wechat_group_id}”"] if self.wechat_group_id else []
        return ways + (["企业微信群机器人"] if self.wecom_key else [])


def checked_department(name: str, wechat_group_id: str, wecom_key: str, *, street_office: bool) -> Department:
    """A department as staff entered it, trimmed and checked (RoutingError with the reason otherwise)."""
    name = " ".join(name.split())
    if not name:
        raise RoutingError("部门名称不能为空")
    if len(name) > NAME_CHARS:
        raise RoutingError(f"部门名称最多 {NAME_CHARS} 个字")
    group, key = wechat_group_id.strip(), wecom_key.strip()
    if len(group) > GROUP_ID_CHARS or len(key) > ROBOT_KEY_CHARS:
        raise RoutingError("群 ID 或机器人 key 太长，请核对")
    if any(c.isspace() for c in group + key):
        raise RoutingError("群 ID 和机器人 key 里不能有空格")
    return Department(name, group, key, street_office)


class Reminder(StrEnum):
    """A deadline reminder: the case is due within a few hours, or past its deadline."""

    DUE_SOON = "due_soon"
    OVERDUE = "overdue"

    @property
    def label(self) -> str:
        """How staff read it."""
        return "即将到期" if self is Reminder.DUE_SOON else "已超期"


@dataclass(frozen=True, slots=True)
class DeadlineRun:
    """What one run of the deadline job did: cases reminded (by number), cases escalated, and whether the staff
    group got a summary."""

    reminded: tuple[str, ...]
    escalated: tuple[str, ...]
    summarised: bool
