"""Notices (通知公告) staff send to many groups at once, now or on a schedule: the text residents read, the groups it
goes to, how urgent it is, when it goes out, and where it stands."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum

from apscheduler.triggers.cron import CronTrigger

from bot.domain.errors import AssistantError
from bot.domain.groups import GroupConfig
from bot.domain.outbox import Delivery, OutboxStatus, SendPriority
from bot.domain.workflow import Workflow

MAX_TITLE_CHARS = 60
# A WeChat group message residents read on a phone: a notice longer than this belongs in an attached document
MAX_NOTICE_CHARS = 800
MAX_TARGET_ITEMS = 500
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")  # crontab numbers: 0 and 7 are Sunday
_APS_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# What Markdown looks like in a WeChat message: literal asterisks, hashes, back-quotes and link brackets
_MARKDOWN = re.compile(r"\*\*|__|```|`[^`]+`|^\s{0,3}#{1,6}\s|^\s*[-*+]\s+\S|\[[^\]]*\]\([^)]*\)", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class NoticeError(AssistantError):
    """A notice that cannot be saved or sent as given; the message says why, in Chinese."""


class NoticeAlreadySubmittedError(NoticeError):
    """The same compose form was submitted again (a double click): the notice it made the first time is notice."""

    def __init__(self, notice: Notice) -> None:
        super().__init__(f"这条通知已经提交过了（通知 #{notice.id}）。")
        self.notice = notice


class NoticeUrgency(StrEnum):
    """How urgent a notice is: urgent ones (停水, 暴雨, 燃气泄漏) go before every reply, routine ones after them."""

    URGENT = "urgent"
    ROUTINE = "routine"

    @property
    def label(self) -> str:
        """How staff see it."""
        return {"urgent": "紧急", "routine": "普通"}[self.value]

    @property
    def priority(self) -> SendPriority:
        """The outbox priority its messages are queued with."""
        return SendPriority.URGENT if self is NoticeUrgency.URGENT else SendPriority.BULK


class ScheduleKind(StrEnum):
    """When a notice goes out: now, once at a time, daily, weekly, or on a crontab line."""

    NOW = "now"
    ONCE = "once"
    DAILY = "daily"
    WEEKLY = "weekly"
    CRON = "cron"

    @property
    def label(self) -> str:
        """How staff see it."""
        return {"now": "立即发送", "once": "定时一次", "daily": "每天", "weekly": "每周", "cron": "自定义周期"}[
            self.value
        ]


@dataclass(frozen=True, slots=True)
class NoticeSchedule:
    """When a notice goes out. at: the one time of a ONCE schedule (aware); time_of_day "HH:MM" of a daily or weekly
    one; weekday 0 (Monday) to 6 of a weekly one; cron: a standard crontab line (minute hour day month weekday,
    0 or 7 = Sunday). Times are the deployment's local time."""

    kind: ScheduleKind
    at: datetime | None = None
    time_of_day: str = ""
    weekday: int = 0
    cron: str = ""

    @property
    def recurring(self) -> bool:
        """Whether it fires more than once."""
        return self.kind in (ScheduleKind.DAILY, ScheduleKind.WEEKLY, ScheduleKind.CRON)

    def crontab(self) -> str:
        """The crontab line of a recurring schedule, in APScheduler's reading (weekdays by name)."""
        if self.kind is ScheduleKind.DAILY:
            hour, minute = _clock_time(self.time_of_day)
            return f"{minute} {hour} * * *"
        if self.kind is ScheduleKind.WEEKLY:
            hour, minute = _clock_time(self.time_of_day)
            return f"{minute} {hour} * * {_APS_DAYS[self.weekday]}"
        if self.kind is ScheduleKind.CRON:
            return _named_weekdays(self.cron)
        raise ValueError(f"{self.kind} is not recurring")

    def trigger(self, zone: tzinfo) -> CronTrigger:
        """The APScheduler trigger of a recurring schedule, read in the deployment's timezone."""
        return CronTrigger.from_crontab(self.crontab(), timezone=zone)

    def last_fire_time(self, now: datetime, zone: tzinfo, *, within: timedelta) -> datetime | None:
        """The latest time a recurring schedule fired at or before now, no earlier than now - within (the run a job
        started now belongs to); the time of a ONCE schedule when it has come; None otherwise."""
        if self.kind is ScheduleKind.ONCE:
            return self.at if self.at is not None and self.at <= now else None
        if not self.recurring:
            return None
        trigger = self.trigger(zone)
        found: datetime | None = None
        fire = trigger.get_next_fire_time(None, now - within)
        while fire is not None and fire <= now:
            found = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        return found

    def describe(self, zone: tzinfo) -> str:
        """The schedule as staff read it: 立即发送, 定时 2026-12-01 08:00, 每天 08:00, 每周一 08:00, 自定义周期 …"""
        if self.kind is ScheduleKind.ONCE and self.at is not None:
            return f"定时 {self.at.astimezone(zone):%Y-%m-%d %H:%M}"
        if self.kind is ScheduleKind.DAILY:
            return f"每天 {self.time_of_day}"
        if self.kind is ScheduleKind.WEEKLY:
            return f"每{WEEKDAYS[self.weekday]} {self.time_of_day}"
        if self.kind is ScheduleKind.CRON:
            return f"自定义周期 {self.cron}"
        return self.kind.label

    @classmethod
    def parse(
        cls,
        kind: str,
        *,
        date: str = "",
        time_of_day: str = "",
        weekday: str = "",
        cron: str = "",
        zone: tzinfo,
        now: datetime,
    ) -> NoticeSchedule:
        """A schedule from the compose form's fields (local date "YYYY-MM-DD", "HH:MM", weekday 0-6, a crontab
        line); NoticeError saying which field is wrong."""
        try:
            chosen = ScheduleKind(kind)
        except ValueError:
            raise NoticeError("请选择发送时间：立即、定时一次、每天、每周或自定义周期。") from None
        if chosen is ScheduleKind.NOW:
            return cls(ScheduleKind.NOW)
        if chosen is ScheduleKind.CRON:
            line = " ".join(cron.split())
            try:
                CronTrigger.from_crontab(_named_weekdays(line), timezone=zone)
            except ValueError:
                raise NoticeError(
                    f"周期“{line[:60]}”写得不对：要五项，依次是 分 时 日 月 星期，例如“0 8 * * 1-5”（工作日8点）。"
                ) from None
            return cls(ScheduleKind.CRON, cron=line)
        hour, minute = _clock_time(time_of_day)
        clock = f"{hour:02d}:{minute:02d}"
        if chosen is ScheduleKind.DAILY:
            return cls(ScheduleKind.DAILY, time_of_day=clock)
        if chosen is ScheduleKind.WEEKLY:
            if weekday.strip() not in {str(n) for n in range(7)}:
                raise NoticeError("请选择每周哪一天发送。")
            return cls(ScheduleKind.WEEKLY, time_of_day=clock, weekday=int(weekday))
        try:
            day = datetime.strptime(date.strip(), "%Y-%m-%d").date()
        except ValueError:
            raise NoticeError("请填写发送日期，例如 2026-12-01。") from None
        at = datetime.combine(day, time(hour, minute), tzinfo=zone)
        if at <= now:
            raise NoticeError(f"发送时间 {at:%Y-%m-%d %H:%M} 已经过去了，请选一个以后的时间，或选“立即发送”。")
        return cls(ScheduleKind.ONCE, at=at)


def _clock_time(text: str) -> tuple[int, int]:
    """Hour and minute of "HH:MM"; NoticeError otherwise."""
    matched = re.fullmatch(r"\s*(\d{1,2})[:：](\d{2})\s*", text)
    if matched is None or int(matched[1]) > 23 or int(matched[2]) > 59:
        raise NoticeError("请填写发送时刻，例如 08:00。")
    return int(matched[1]), int(matched[2])


def _named_weekdays(line: str) -> str:
    """A standard crontab line with its weekday numbers as names: APScheduler 3 reads 0 as Monday, crontab as
    Sunday; by name both agree."""
    fields = line.split()
    if len(fields) != 5:
        return line  # from_crontab refuses it, naming the count
    fields[4] = re.sub(r"\d+", lambda n: _CRON_DAYS[int(n[0])] if int(n[0]) < 8 else n[0], fields[4])
    return " ".join(fields)


@dataclass(frozen=True, slots=True)
class NoticeTargets:
    """Which groups a notice goes to: every group the author may reach, or the groups of some communities, with
    some tags, or named one by one (a group matching any of them is included)."""

    everyone: bool = False
    communities: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether nothing was chosen."""
        return not (self.everyone or self.communities or self.tags or self.group_ids)

    def matches(self, group: GroupConfig) -> bool:
        """Whether group is one of the targets (scope and enabled state aside)."""
        return (
            self.everyone
            or group.community in self.communities
            or group.group_id in self.group_ids
            or any(tag in group.tags for tag in self.tags)
        )

    def describe(self, name_of: dict[str, str] | None = None) -> str:
        """The targets as staff read them: 全部群 / 社区：… / 标签：… / 群：…"""
        if self.everyone:
            return "全部群"
        names = name_of or {}
        parts = []
        if self.communities:
            parts.append("社区：" + "、".join(self.communities))
        if self.tags:
            parts.append("标签：" + "、".join(self.tags))
        if self.group_ids:
            parts.append("群：" + "、".join(names.get(g, g) for g in self.group_ids))
        return "；".join(parts)

    @classmethod
    def chosen(
        cls, *, everyone: bool, communities: Sequence[str], tags: Sequence[str], group_ids: Sequence[str]
    ) -> NoticeTargets:
        """Targets from a form's choices, blanks and repeats dropped; NoticeError when nothing was chosen."""

        def cleaned(values: Sequence[str]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(v.strip() for v in values if v.strip()))[:MAX_TARGET_ITEMS]

        targets = cls(everyone, cleaned(communities), cleaned(tags), cleaned(group_ids))
        if targets.empty:
            raise NoticeError("请选择发给哪些群：全部、按社区、按标签或单个群。")
        return targets


def in_scope(group: GroupConfig, scope: str | None) -> bool:
    """Whether an author whose scope is scope (a community; None: every community) may send to group."""
    return scope is None or (bool(scope) and group.community == scope)


def resolve_targets(targets: NoticeTargets, groups: Sequence[GroupConfig], scope: str | None) -> list[GroupConfig]:
    """The groups a notice goes to now: enabled, within the author's scope, matching the targets."""
    return [g for g in groups if g.enabled and in_scope(g, scope) and targets.matches(g)]


def group_tags(text: str) -> tuple[str, ...]:
    """Tags typed in a box (separated by commas, 、 or spaces), blanks and repeats dropped, each at most 20 chars."""
    return tuple(dict.fromkeys(t[:20] for t in re.split(r"[,，、\s]+", text) if t))[:20]


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """A notice as composed: its title (for staff), the exact text residents read, urgency, targets and schedule."""

    title: str
    text: str
    urgency: NoticeUrgency
    targets: NoticeTargets
    schedule: NoticeSchedule

    def checked(self) -> NoticeDraft:
        """The draft with its text tidied (line ends, trailing spaces, control characters); NoticeError for an empty
        or too long title or text, or a text with Markdown (WeChat shows it as literal symbols)."""
        title = " ".join(self.title.split())
        lines = [line.rstrip() for line in _CONTROL.sub("", self.text.replace("\r\n", "\n")).split("\n")]
        text = "\n".join(lines).strip("\n")
        if not title:
            raise NoticeError("请填写标题（只给工作人员看，方便在列表里找到）。")
        if len(title) > MAX_TITLE_CHARS:
            raise NoticeError(f"标题最多 {MAX_TITLE_CHARS} 个字，现在有 {len(title)} 个字。")
        if not text.strip():
            raise NoticeError("请填写通知内容。")
        if len(text) > MAX_NOTICE_CHARS:
            raise NoticeError(f"通知内容最多 {MAX_NOTICE_CHARS} 个字，现在有 {len(text)} 个字，请精简后再发。")
        found = _MARKDOWN.search(text)
        if found is not None:
            raise NoticeError(
                f"通知内容里有“{found[0].strip()[:20]}”这样的排版符号，微信群里会原样显示，请改成普通文字。"
            )
        if self.targets.empty:
            raise NoticeError("请选择发给哪些群。")
        return NoticeDraft(title, text, self.urgency, self.targets, self.schedule)


class NoticeStatus(StrEnum):
    """Where a notice stands: a draft (written in the staff WeChat group, waiting for "确认发送"), scheduled (waiting
    for its time, or recurring), sent (a one-off that went out), or withdrawn (kept in the history, never sent)."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENT = "sent"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        """How staff see it."""
        return NOTICE_WORKFLOW_STATUSES[self]


class NoticeEvent(StrEnum):
    """What moves a notice: its author confirms a draft, its one-off run goes out, staff edit it, staff withdraw it."""

    CONFIRM = "confirm"
    SEND = "send"
    EDIT = "edit"
    WITHDRAW = "withdraw"


NOTICE_WORKFLOW_STATUSES = {
    NoticeStatus.DRAFT: "待确认",
    NoticeStatus.SCHEDULED: "等待发送",
    NoticeStatus.SENT: "已发出",
    NoticeStatus.WITHDRAWN: "已撤回",
}
NOTICE_WORKFLOW: Workflow[NoticeStatus, NoticeEvent] = Workflow(
    "notice",
    "通知",
    statuses=NOTICE_WORKFLOW_STATUSES,
    events={
        NoticeEvent.CONFIRM: "确认",
        NoticeEvent.SEND: "发送",
        NoticeEvent.EDIT: "修改",
        NoticeEvent.WITHDRAW: "撤回",
    },
    moves={
        (NoticeStatus.DRAFT, NoticeEvent.CONFIRM): NoticeStatus.SENT,
        (NoticeStatus.SCHEDULED, NoticeEvent.SEND): NoticeStatus.SENT,
        (NoticeStatus.SCHEDULED, NoticeEvent.EDIT): NoticeStatus.SCHEDULED,
        (NoticeStatus.SCHEDULED, NoticeEvent.WITHDRAW): NoticeStatus.WITHDRAWN,
    },
)


@dataclass(frozen=True, slots=True)
class Notice:
    """A stored notice. scope: the community its author may reach (None: every community, an admin's)."""

    id: int
    draft: NoticeDraft
    status: NoticeStatus
    author: str
    author_username: str
    scope: str | None
    created_at: datetime
    edited_at: datetime | None = None
    edited_by: str = ""

    @property
    def job_id(self) -> str:
        """The scheduler's job id of this notice."""
        return f"notice:{self.id}"


class RunState(StrEnum):
    """A run of a notice: queuing (recorded, its messages not all queued yet: a crash here is resumed) or queued."""

    QUEUING = "queuing"
    QUEUED = "queued"


@dataclass(frozen=True, slots=True)
class NoticeRun:
    """One sending of a notice: at a scheduled fire time, or "now-…" when staff sent it by hand."""

    notice_id: int
    run_key: str
    state: RunState
    started_at: datetime
    groups: int = 0

    @property
    def source(self) -> str:
        """The outbox source of its messages."""
        return run_source(self.notice_id, self.run_key)


def run_source(notice_id: int, run_key: str) -> str:
    """The outbox source of one run's messages: notice:<id>:<run key>."""
    return f"notice:{notice_id}:{run_key}"


def run_dedupe_key(notice_id: int, run_key: str, group_id: str) -> str:
    """The dedupe key of one run's message to one group: a group gets one run once."""
    return f"{run_source(notice_id, run_key)}:{group_id}"


def scheduled_run_key(fire_time: datetime) -> str:
    """The run key of a scheduled run: its fire time in UTC, to the minute."""
    return fire_time.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def manual_run_key(now: datetime) -> str:
    """The run key of a run staff started by hand: "now-" and the moment, to the microsecond."""
    return "now-" + now.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


@dataclass(frozen=True, slots=True)
class RunProgress:
    """How one run is going: messages per outbox status, and each group's delivery with its name."""

    run: NoticeRun
    deliveries: tuple[tuple[str, Delivery], ...]

    @property
    def counts(self) -> dict[OutboxStatus, int]:
        """Messages per status."""
        counted: dict[OutboxStatus, int] = {}
        for _, delivery in self.deliveries:
            counted[delivery.status] = counted.get(delivery.status, 0) + 1
        return counted

    @property
    def failed(self) -> int:
        """Messages that failed for good."""
        return self.counts.get(OutboxStatus.FAILED, 0)

    def summary(self) -> str:
        """已发送 3 · 等待发送 2 · 发送失败 1"""
        return " · ".join(f"{status.label} {count}" for status, count in sorted(self.counts.items()))


@dataclass(frozen=True, slots=True)
class NoticePreview:
    """Exactly what residents will see, and the groups it goes to now."""

    draft: NoticeDraft
    groups: tuple[GroupConfig, ...]


# "#通知 全部 明天停水……" / "#通知 3号楼群 ……" in the staff WeChat group; "确认发送" confirms it
_WECHAT_NOTICE = re.compile(r"\s*[#＃]通知\s+(\S+)\s+(.+)", re.DOTALL)
_CONFIRM = re.compile(r"\s*(回复\s*)?确认\s*发送\s*[。!！]?\s*")
EVERYONE_WORD = "全部"


def parse_wechat_notice(text: str) -> tuple[str, str] | None:
    """The target word ("全部", a group's name, a community or a tag) and the text of "#通知 <target> <text>"."""
    matched = _WECHAT_NOTICE.fullmatch(text)
    return (matched[1], matched[2].strip()) if matched is not None else None


def looks_like_wechat_notice(text: str) -> bool:
    """Whether a message tries to publish a notice ("#通知 …"), however it is written."""
    return text.lstrip().startswith(("#通知", "＃通知"))


def is_confirmation(text: str) -> bool:
    """Whether a message is "确认发送" (also "回复 确认 发送")."""
    return _CONFIRM.fullmatch(text) is not None


def wechat_targets(word: str, groups: Sequence[GroupConfig]) -> NoticeTargets:
    """The targets a word of "#通知 <word> …" names among the groups an author reaches: 全部, a group's name, a
    community or a tag; NoticeError when it names none of them."""
    if word == EVERYONE_WORD:
        return NoticeTargets(everyone=True)
    named = tuple(g.group_id for g in groups if g.name == word)
    if named:
        return NoticeTargets(group_ids=named)
    if any(g.community == word for g in groups):
        return NoticeTargets(communities=(word,))
    if any(word in g.tags for g in groups):
        return NoticeTargets(tags=(word,))
    raise NoticeError(f"没有叫“{word[:20]}”的群、社区或标签。发给全部群请写“#通知 全部 通知内容”。")
