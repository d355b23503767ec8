"""高龄津贴双提醒: a community's register of older residents (name, birth year and month, a family contact; nothing
more), and the rule of when a resident reaching the subsidy age is reminded to the cadres and told to the family.

The rule, by calendar month (a register keeps no birth day): a resident turns the age in the month of their birth
year + age; the reminder is due from days_before days ahead of that month's first day until the month ends. A
resident whose month has already ended when first seen (imported when already over the age, the age setting
lowered, the job not run for months) is listed once in a catch-up reminder to the cadres and never sent an SMS:
their family may have claimed long ago, and a burst of SMS to every older resident's family would be a storm."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.domain.errors import AssistantError
from bot.domain.messages import OutboundMessage
from bot.domain.sms import is_mobile, typed_number

NAME_CHARS = 30
# Excel's day numbers count from 1899-12-30 (its 1900 leap-year bug folded in); 5 digits cover 1900-2173.
_EXCEL_EPOCH = date(1899, 12, 30)
_EARLIEST_YEAR = 1900
_YEAR_MONTH = re.compile(r"^(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})(?:\s*(?:[-/.]|月)\s*(?:\d{1,2}\s*日?)?)?\s*(?:月)?$")
_DIGITS = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")
# What a spreadsheet's date cell reads as ("1946-12-01 00:00:00"), and a day number ("17137", "17137.0").
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_DAY_NUMBER = re.compile(r"^(\d{1,5})(?:\.0+)?$")


class RegisterError(AssistantError):
    """A register line or form that cannot be kept; the message says what to fix, in Chinese."""


@dataclass(frozen=True, slots=True, order=True)
class BirthMonth:
    """A birth year and month (a register keeps no day)."""

    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """As staff and families read it: 1946年12月."""
        return f"{self.year}年{self.month}月"

    def turning(self, age: int) -> date:
        """The first day of the month this resident turns age."""
        return date(self.year + age, self.month, 1)


def parse_birth_month(text: str, *, today: date) -> BirthMonth:
    """A birth month as registers write it: 1946-12, 1946/12, 1946.12, 1946年12月, 194612, a full date (1946-12-05,
    19461205, 1946年12月5日), a spreadsheet date cell or Excel day number; RegisterError naming the forms otherwise."""
    value = text.strip().replace("　", " ")
    if not value:
        raise RegisterError("出生年月没有填")
    year = month = 0
    if found := _DATETIME.match(value):
        year, month = int(found.group(1)), int(found.group(2))
    elif found := (_YEAR_MONTH.match(value) or _DIGITS.match(value)):
        year, month = int(found.group(1)), int(found.group(2))
    elif (found := _DAY_NUMBER.match(value)) and len(found.group(1)) == 5:
        day = _EXCEL_EPOCH + timedelta(days=int(found.group(1)))
        year, month = day.year, day.month
    else:
        raise RegisterError(f"出生年月“{value[:20]}”看不懂，请写成 1946-12、1946年12月 或 194612")
    if not 1 <= month <= 12:
        raise RegisterError(f"出生年月“{value[:20]}”的月份不对（应为 1 到 12）")
    born = BirthMonth(year, month)
    if year < _EARLIEST_YEAR or born > BirthMonth(today.year, today.month):
        raise RegisterError(f"出生年月“{value[:20]}”不在合理范围内，请核对")
    return born


def clean_name(text: str, what: str, *, required: bool) -> str:
    """A person's name as kept (spaces inside dropped, at most NAME_CHARS); RegisterError when it is missing or holds
    digits (a phone or an ID typed in the wrong column)."""
    name = "".join(text.split())
    if not name:
        if required:
            raise RegisterError(f"{what}没有填")
        return ""
    if any(char.isdigit() for char in name):
        raise RegisterError(f"{what}里不能有数字，请核对是否填错了列")
    if len(name) > NAME_CHARS:
        raise RegisterError(f"{what}太长了（最多 {NAME_CHARS} 个字）")
    return name


def clean_mobile(text: str) -> str:
    """A family contact's mobile number as kept (11 digits; spaces, dashes and +86 dropped), "" when none was given;
    RegisterError for anything else (the notice goes by SMS, which only a mobile receives)."""
    digits = typed_number(text)
    if not digits:
        return ""
    if digits.endswith(".0"):  # a phone typed as a number in a spreadsheet
        digits = digits[:-2]
    if not is_mobile(digits):
        raise RegisterError("联系电话要填 11 位手机号（短信只能发到手机），没有手机号就空着")
    return digits


@dataclass(frozen=True, slots=True)
class RegisterLine:
    """What a register keeps of one resident, checked: name, birth month, family contact name and mobile (either may
    be empty). Name, birth month and community are the resident's identity."""

    name: str
    born: BirthMonth
    contact_name: str = ""
    contact_phone: str = ""


def register_line(name: str, born: str, contact_name: str, contact_phone: str, *, today: date) -> RegisterLine:
    """One resident's line checked from what staff typed or a file held; RegisterError with the first problem."""
    return RegisterLine(
        clean_name(name, "姓名", required=True),
        parse_birth_month(born, today=today),
        clean_name(contact_name, "家属/联系人", required=False),
        clean_mobile(contact_phone),
    )


@dataclass(frozen=True, slots=True)
class ElderlyResident:
    """One register entry: the community, the resident's line, and whether (for which age) the cadres were reminded
    and the family told."""

    id: int
    community: str
    line: RegisterLine
    reminded_age: int | None
    reminded_at: datetime | None
    family_notified_at: datetime | None
    updated_at: datetime

    @property
    def name(self) -> str:
        """The resident's name."""
        return self.line.name

    @property
    def born(self) -> BirthMonth:
        """The resident's birth month."""
        return self.line.born

    def reminded_for(self, age: int) -> bool:
        """Whether the reminder for reaching age (or an older age) went out."""
        return self.reminded_age is not None and self.reminded_age >= age


class ReminderStage(StrEnum):
    """Where a resident stands against the subsidy age on a day."""

    WAITING = "waiting"  # the reminder is not due yet
    DUE = "due"  # reaching the age soon or this month: cadres reminded, family told
    PAST = "past"  # the month of reaching it has ended: cadres reminded once (catch-up), no SMS

    @property
    def label(self) -> str:
        """As the console says it."""
        return {"waiting": "未到提醒时间", "due": "即将满龄", "past": "已满龄"}[self.value]


@dataclass(frozen=True, slots=True)
class SubsidyRule:
    """The subsidy age (80 here; 70 or 90 elsewhere) and how many days ahead of the month a resident reaches it the
    reminder goes."""

    age: int = 80
    days_before: int = 30

    def remind_from(self, born: BirthMonth) -> date:
        """The first day the reminder for this resident is due."""
        return born.turning(self.age) - timedelta(days=self.days_before)

    def stage(self, born: BirthMonth, today: date) -> ReminderStage:
        """Where a resident born so stands on today."""
        turning = born.turning(self.age)
        month_after = date(turning.year + turning.month // 12, turning.month % 12 + 1, 1)
        if today >= month_after:
            return ReminderStage.PAST
        if today >= turning - timedelta(days=self.days_before):
            return ReminderStage.DUE
        return ReminderStage.WAITING

    def latest_due_birth(self, today: date) -> BirthMonth:
        """The latest birth month whose reminder is due (or past) on today: everyone born then or earlier."""
        horizon = today + timedelta(days=self.days_before)
        return BirthMonth(horizon.year - self.age, horizon.month)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why one line of an imported register was not kept (line numbers as the spreadsheet shows them)."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import did: lines added, updated, unchanged, refused (with why) and the columns ignored (not kept)."""

    added: int
    updated: int
    unchanged: int
    problems: tuple[RowProblem, ...] = ()
    ignored_columns: tuple[str, ...] = ()

    @property
    def said(self) -> str:
        """The summary staff read after an import."""
        parts = [f"新增 {self.added} 人，更新 {self.updated} 人，未变 {self.unchanged} 人"]
        if self.problems:
            parts.append(f"{len(self.problems)} 行没有导入")
        if self.ignored_columns:
            parts.append(f"这些列不需要，已忽略、没有保存：{'、'.join(self.ignored_columns)}")
        return "；".join(parts) + "。"


@dataclass(frozen=True, slots=True)
class ReminderBatch:
    """One community's reminders of one run, stored and queued together: the residents reminded (for one age, as they
    were read: an entry edited meanwhile is not reminded in this run), the SMS to each family contact with a mobile (by
    resident id), and the cadres' summary."""

    community: str
    age: int
    residents: tuple[ElderlyResident, ...]
    family: tuple[tuple[int, OutboundMessage], ...]
    summary: OutboundMessage


@dataclass(frozen=True, slots=True)
class ReminderRun:
    """What one run of the daily job did: residents reminded as reaching the age soon, residents listed in a
    catch-up (already past it), SMS queued to families, communities summed up."""

    due: int = 0
    caught_up: int = 0
    sms: int = 0
    summaries: int = 0

    def plus(self, batch: ReminderBatch, *, due: int) -> ReminderRun:
        """This run with one more community's batch stored (due of its residents reaching the age soon)."""
        caught_up = len(batch.residents) - due
        return ReminderRun(self.due + due, self.caught_up + caught_up, self.sms + len(batch.family), self.summaries + 1)
