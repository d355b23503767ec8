"""Routing petitions (派单): each category's default department and deadlines (the category file's, or what staff
set in the console), the departments directory, and the notices a department or the street office gets — queued by
the caller in its own transaction, never sent from here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.messages import OutboundMessage
from bot.domain.petitions import DEFAULT_CATEGORY, Petition, PetitionCategory, Urgency
from bot.domain.routing import (
    WECOM_CHANNEL,
    Department,
    Route,
    RoutingError,
    checked_department,
    checked_route,
)
from bot.domain.staff import Actor
from bot.ports import Clock, RouteStore
from bot.services.audit import StaffAudit

# A notice to a department or the street office is kept short enough for a WeCom robot and a phone screen.
NOTICE_CHARS = 500
_GROUPS_FRESH = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Notices:
    """Messages to one or more departments and, for the case history, who they reach ("物业：微信群“物业群”")."""

    messages: tuple[OutboundMessage, ...]
    reached: tuple[str, ...]

    @property
    def said(self) -> str:
        """Who was notified, in one line ("" when nobody)."""
        return "；".join(self.reached)


class PetitionRouting:
    """Where a category's cases go and how long they may take, the departments directory, and the notices they get."""

    def __init__(
        self,
        store: RouteStore,
        categories: Sequence[PetitionCategory],
        clock: Clock,
        *,
        audit: StaffAudit,
        staff_channel: str = "wechat",
        utc_offset: timedelta = timedelta(hours=8),
        group_name_of: Callable[[str], str] = str,
    ) -> None:
        """categories give each category's default route; staff_channel is the chat channel departments' WeChat
        groups are on; group_name_of names a WeChat group for the case history."""
        self._store = store
        self._defaults = {category.name: Route.of(category) for category in categories}
        self._clock = clock
        self._audit = audit
        self._staff_channel = staff_channel
        self._utc_offset = utc_offset
        self._group_name_of = group_name_of
        # Which WeChat groups are departments' (asked of every inbound message): kept for _GROUPS_FRESH, and
        # refreshed at once when this process changes the directory.
        self._groups_at: datetime | None = None
        self._groups: dict[str, Department] = {}

    # ---- routes

    def default_route(self, category: str) -> Route | None:
        """The category file's route for category (an unknown category takes 其他's), None when there is neither."""
        return self._defaults.get(category) or self._defaults.get(DEFAULT_CATEGORY)

    def route(self, category: str) -> Route | None:
        """The route in force for category: what staff set, else the category file's."""
        default = self.default_route(category)
        return self._store.route(default) if default is not None else None

    def routes(self) -> list[Route]:
        """Every category's route in force, in the category file's order."""
        edited = self._store.edited_routes()
        return [edited.get(name, default) for name, default in self._defaults.items()]

    def default_department(self, category: str) -> str:
        """Who a case of category goes to when staff name nobody ("" : nobody by default)."""
        route = self.route(category)
        return route.department if route is not None else ""

    def edit_route(
        self, category: str, department: str, deadline_hours: int, urgent_deadline_hours: int, *, actor: Actor
    ) -> Route:
        """Set category's department and deadlines (RoutingError when unknown or out of bounds); audited."""
        if category not in self._defaults:
            raise RoutingError(f"没有“{category}”这个诉求分类")
        route = checked_route(category, department, deadline_hours, urgent_deadline_hours)
        self._store.save_route(route, by=actor.name, now=self._clock.now())
        hours = f"{route.deadline_hours} 小时，紧急 {route.urgent_deadline_hours} 小时"
        detail = f"{route.department or '（不指定）'}，{hours}"
        self._audit.record_as(actor, "route_edited", target=category, detail=detail)
        return route

    def reset_route(self, category: str, *, actor: Actor) -> None:
        """Go back to the category file's route for category; audited."""
        if self._store.reset_route(category):
            self._audit.record_as(actor, "route_edited", target=category, detail="恢复默认")

    # ---- departments

    def departments(self) -> list[Department]:
        """Every department in the directory, by name."""
        return self._store.departments()

    def department_names(self) -> list[str]:
        """Every department staff may pick: the directory's and those the routes name, by name."""
        named = {d.name for d in self.departments()} | {r.department for r in self.routes() if r.department}
        return sorted(named)

    def department_of_group(self, group_id: str) -> Department | None:
        """The department whose staff WeChat group group_id is, if any (the directory read at most every
        _GROUPS_FRESH; another process's change is seen within that)."""
        if not group_id:
            return None
        now = self._clock.now()
        if self._groups_at is None or not timedelta(0) <= now - self._groups_at < _GROUPS_FRESH:
            self._groups = {d.wechat_group_id: d for d in self.departments() if d.wechat_group_id}
            self._groups_at = now
        return self._groups.get(group_id)

    def save_department(
        self, name: str, wechat_group_id: str, wecom_key: str, *, street_office: bool, actor: Actor
    ) -> Department:
        """Add or change a department (RoutingError when its fields cannot be kept); audited (the robot key never)."""
        department = checked_department(name, wechat_group_id, wecom_key, street_office=street_office)
        self._store.save_department(department, now=self._clock.now())
        self._groups_at = None
        reached = "、".join(department.reached_by(self._group_name_of(department.wechat_group_id))) or "未设置通知"
        detail = f"{reached}{'，街道（吹哨对象）' if department.street_office else ''}"
        self._audit.record_as(actor, "department_saved", target=department.name, detail=detail)
        return department

    def remove_department(self, name: str, *, actor: Actor) -> None:
        """Take a department out of the directory (its cases keep its name); audited."""
        self._groups_at = None
        if self._store.remove_department(name):
            self._audit.record_as(actor, "department_removed", target=name)

    # ---- notices

    def dispatched(self, petition: Petition, department: str) -> Notices:
        """What the department a case is dispatched to gets (its WeChat group, its robot), if it is in the directory:
        the case and the replies that move it."""
        found = self._store.department(department)
        if found is None:
            return Notices((), ())
        number = petition.number
        head = f"【派单 {number}】{self._facts(petition)}"
        tail = f"开始处理回复“{number} 处理中”，办结回复“{number} 办结：说明”。"
        return self._to([found], _fitted(head, petition.description, tail))

    def escalated(self, petition: Petition, reason: str, *, by: str) -> Notices:
        """What the street office gets when a case is escalated (吹哨): why, the case, who it is with and by whom;
        nobody when no reachable department is marked as the street office."""
        offices = [d for d in self.departments() if d.street_office and d.reachable]
        number = petition.number
        with_whom = f"承办：{petition.department}，" if petition.department else "尚未派单，"
        head = f"【吹哨 {number}】{reason}\n{with_whom}{self._facts(petition)}"
        tail = f"由{by}吹哨，请街道协调相关部门到场处理。"
        return self._to(offices, _fitted(head, petition.description, tail))

    def reminded(self, petition: Petition, text: str) -> Notices:
        """A reminder to the department a case is dispatched to (nobody when it is not in the directory)."""
        found = self._store.department(petition.department) if petition.department else None
        return self._to([found], text[:NOTICE_CHARS]) if found is not None else Notices((), ())

    def local_time(self, at: datetime) -> str:
        """A time as staff read it, in local time ("11月27日 09:00")."""
        local = at + self._utc_offset
        return f"{local.month}月{local.day}日 {local:%H:%M}"

    def _facts(self, petition: Petition) -> str:
        """Category, place, urgency and deadline of a case, in one line."""
        parts = [
            petition.category,
            f"地点：{petition.location}" if petition.location else "",
            Urgency.URGENT.label if petition.urgency is Urgency.URGENT else "",
            f"期限：{self.local_time(petition.due_at)}前办结" if petition.due_at is not None else "",
        ]
        return "，".join(part for part in parts if part) + "\n"

    def _to(self, departments: Sequence[Department], text: str) -> Notices:
        """text to each department's WeChat group and WeCom robot, and who that reaches."""
        messages: list[OutboundMessage] = []
        reached: list[str] = []
        for department in departments:
            if department.wechat_group_id:
                messages.append(OutboundMessage(self._staff_channel, text, group_id=department.wechat_group_id))
            if department.wecom_key:
                messages.append(OutboundMessage(WECOM_CHANNEL, text, group_id=department.wecom_key))
            ways = department.reached_by(self._group_name_of(department.wechat_group_id))
            if ways:
                reached.append(f"{department.name}（{'、'.join(ways)}）")
        return Notices(tuple(messages), tuple(reached))


def _fitted(head: str, description: str, tail: str) -> str:
    """head, the resident's words (shortened to fit) and tail, at most NOTICE_CHARS characters."""
    room = NOTICE_CHARS - len(head) - len(tail) - len("居民反映：“”\n")
    words = description if len(description) <= room else description[: max(room - 1, 0)] + "…"
    return f"{head}居民反映：“{words}”\n{tail}"[:NOTICE_CHARS]
