"""到期提醒: registers of things that expire (fire extinguishers, merchants' health certificates, elevator
inspections …), each with an owner, a contact and a due date; the reminder rule (which stage an item is in on a
local day) and how staff's spreadsheets name columns and write dates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.domain.errors import AssistantError

# The kinds staff start with, each with the days before the due date it is reminded (BOT_EXPIRY_KINDS extends it).
DEFAULT_KINDS = "灭火器/消防设施:30,7;健康证:30,7;电梯年检:30,7;其他:30,7"
DEFAULT_LEAD_DAYS = (30, 7)
OVERDUE_REPEAT_DAYS = 7
WHAT_CHARS = 100
NAME_CHARS = 64
NOTES_CHARS = 300
# Excel counts days from 1899-12-30 (its 1900 leap-year bug included); a date cell saved as a plain number.
_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_SERIALS = range(36526, 73051)  # 2000-01-01 … 2099-12-31
_YEARS = range(2000, 2100)
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^(\d{5})(?:\.0+)?$")
_PHONE_CHARS = re.compile(r"[\s\-()（）]")
_PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9}|0\d{9,11}|\d{7,8})$")


class ExpiryError(AssistantError):
    """An item or a register file that cannot be saved as given; the message says what to fix."""


class ItemNotFoundError(ExpiryError):
    """No item with that id (or it belongs to another community)."""


@dataclass(frozen=True, slots=True)
class ExpiryKind:
    """One kind of item staff register, and the days before its due date it is reminded (largest first)."""

    name: str
    lead_days: tuple[int, ...] = DEFAULT_LEAD_DAYS

    def matches(self, text: str) -> bool:
        """Whether a cell names this kind: its whole name or one part of it ("灭火器" for "灭火器/消防设施")."""
        text = text.strip()
        return bool(text) and (text == self.name or text in self.name.split("/"))


def parse_kinds(spec: str) -> tuple[ExpiryKind, ...]:
    """Kinds from "灭火器/消防设施:30,7;健康证:30,7;其他" (lead days optional: 30 and 7); ExpiryError when malformed."""
    kinds: list[ExpiryKind] = []
    for part in (p.strip() for p in spec.replace("；", ";").split(";")):
        if not part:
            continue
        name, _, days = part.replace("：", ":").partition(":")
        numbers = [d.strip() for d in days.replace("，", ",").split(",") if d.strip()]
        if not name.strip() or not all(d.isdigit() and 0 < int(d) <= 366 for d in numbers):
            raise ExpiryError(f"到期提醒类型“{part}”写法不对，应为“名称:30,7”（提前天数在 1 到 366 之间）")
        lead = tuple(sorted({int(d) for d in numbers}, reverse=True)) or DEFAULT_LEAD_DAYS
        kinds.append(ExpiryKind(name.strip()[:32], lead))
    if not kinds:
        raise ExpiryError("到期提醒至少要有一个类型")
    return tuple(kinds)


@dataclass(frozen=True, slots=True)
class ExpiryItem:
    """One registered item: what it is, whose it is, who to tell, when it is due; renewed_on is the day its due date
    was last moved on, retired that it is no longer kept (removed, shop closed) and never reminded; last_reminder the
    last reminder sent (see reminder_key) and reminded_on the local day it was sent."""

    id: int
    community: str
    kind: str
    what: str
    owner: str
    contact: str
    phone: str
    due: date
    notes: str = ""
    renewed_on: date | None = None
    retired: bool = False
    last_reminder: str = ""
    reminded_on: date | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ItemDraft:
    """An item as staff give it (the console's form or one row of a sheet), checked by `checked_draft`."""

    community: str
    kind: str
    what: str
    owner: str
    contact: str
    phone: str
    due: date
    notes: str = ""

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes two rows the same item: community, kind and name (a re-import updates it, not a copy)."""
        return (self.community, self.kind, self.what)


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What an import did with the good rows: items created, updated, and found as they were."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


class Stage(StrEnum):
    """Where an item stands against its due date."""

    BEFORE = "before"
    DUE = "due"
    OVERDUE = "overdue"


@dataclass(frozen=True, slots=True)
class ReminderStage:
    """The reminder an item is due on a day: before (number: the lead days), due (on the day, and the days after it
    until the first repeat), overdue (number: which repeat); days_left is negative once overdue."""

    stage: Stage
    number: int
    days_left: int

    @property
    def key(self) -> str:
        """The stage's name in dedupe keys and the item's last reminder ("before30", "due", "overdue2")."""
        return f"{self.stage.value}{self.number or ''}"

    @property
    def said(self) -> str:
        """How staff and contacts are told where the item stands ("还有 7 天到期", "今天到期", "已过期 14 天")."""
        if self.days_left > 0:
            return f"还有 {self.days_left} 天到期"
        return "今天到期" if self.days_left == 0 else f"已过期 {-self.days_left} 天"


def reminder_stage(
    due: date, today: date, lead_days: tuple[int, ...], repeat_days: int = OVERDUE_REPEAT_DAYS
) -> ReminderStage | None:
    """The stage an item due on due is in on the local day today, None before its longest lead.

    Before the due date: the smallest lead not shorter than the days left (a run missed on the 30th day before is
    made up on the 29th; an item registered 5 days before is reminded once, at "7"). On the day and until repeat_days
    after it: due. Then overdue 1, 2 … every repeat_days while it is not renewed.
    """
    days_left = (due - today).days
    if days_left > 0:
        leads = [lead for lead in sorted(lead_days) if lead >= days_left]
        return ReminderStage(Stage.BEFORE, leads[0], days_left) if leads else None
    repeat = (-days_left) // max(repeat_days, 1)
    if repeat == 0:
        return ReminderStage(Stage.DUE, 0, days_left)
    return ReminderStage(Stage.OVERDUE, repeat, days_left)


def reminder_key(item: ExpiryItem, stage: ReminderStage) -> str:
    """The one reminder of an item's due date and stage ("2026-12-01:before7"): sent once, whoever runs the job."""
    return f"{item.due.isoformat()}:{stage.key}"


class Standing(StrEnum):
    """How the console sorts items: its filters."""

    OVERDUE = "overdue"
    SOON = "soon"
    RENEWED = "renewed"
    CURRENT = "current"
    RETIRED = "retired"

    @property
    def label(self) -> str:
        """The filter's name in the console."""
        return {
            "overdue": "已过期",
            "soon": "即将到期",
            "renewed": "已续期",
            "current": "未到期",
            "retired": "已停用",
        }[self.value]


def standing(item: ExpiryItem, today: date, lead_days: tuple[int, ...]) -> Standing:
    """Where an item stands for the console: retired, overdue, within its longest lead (soon), renewed, or current."""
    if item.retired:
        return Standing.RETIRED
    if item.due < today:
        return Standing.OVERDUE
    if (item.due - today).days <= max(lead_days, default=0):
        return Standing.SOON
    return Standing.RENEWED if item.renewed_on is not None else Standing.CURRENT


def parse_due_date(text: str) -> date:
    """A date as Excel and staff write it: 2026-12-01, 2026/12/1, 2026.12.1, 2026年12月1日, 20261201, a date cell
    ("2026-12-01 00:00:00") or a date cell saved as a number (46357); ExpiryError otherwise."""
    cleaned = text.strip()
    found = _DATE.match(cleaned) or _COMPACT_DATE.match(cleaned)
    if found is not None:
        year, month, day = (int(g) for g in found.groups())
        try:
            parsed = date(year, month, day)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.year in _YEARS:
            return parsed
    serial = _SERIAL.match(cleaned)
    if serial is not None and int(serial.group(1)) in _EXCEL_SERIALS:
        return _EXCEL_EPOCH + timedelta(days=int(serial.group(1)))
    raise ExpiryError(f"到期日期“{cleaned[:20]}”无法识别，请写成 2026-12-01 这样的日期")


def normalised_phone(text: str) -> str:
    """A contact phone as digits (a mobile, or a landline with or without area code); "" for none; ExpiryError when
    it is not a phone number."""
    digits = _PHONE_CHARS.sub("", text)
    if not digits:
        return ""
    found = _PHONE.match(digits)
    if found is None:
        raise ExpiryError("联系电话格式不对，请填手机号或座机号（只写数字）")
    return found.group(1)


def checked_draft(draft: ItemDraft, kinds: tuple[ExpiryKind, ...]) -> ItemDraft:
    """The draft with its kind named as registered, its texts trimmed and bounded and its phone as digits;
    ExpiryError with the field to fix."""
    kind = next((k for k in kinds if k.matches(draft.kind)), None)
    if kind is None:
        names = "、".join(k.name for k in kinds)
        raise ExpiryError(f"类型“{draft.kind.strip()[:20]}”不在列表里（可选：{names}）")
    what = _one_line(draft.what, WHAT_CHARS)
    if not what:
        raise ExpiryError("名称为空，请写明是什么（如“3号楼2单元灭火器”）")
    if not draft.community.strip():
        raise ExpiryError("请选择所属社区")
    return ItemDraft(
        community=_one_line(draft.community, 128),
        kind=kind.name,
        what=what,
        owner=_one_line(draft.owner, NAME_CHARS),
        contact=_one_line(draft.contact, NAME_CHARS),
        phone=normalised_phone(draft.phone),
        due=draft.due,
        notes=_one_line(draft.notes, NOTES_CHARS),
    )


def kind_named(kinds: tuple[ExpiryKind, ...], name: str) -> ExpiryKind:
    """The registered kind of an item (an item of a kind since removed from the list keeps the default leads)."""
    return next((k for k in kinds if k.name == name), ExpiryKind(name))


# ---------------------------------------------------------------- import from a sheet

# Column names staff use, by field (compared without spaces and without a bracketed remark: "到期日期（年月日）").
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "kind": ("类型", "类别", "种类", "分类"),
    "what": ("名称", "物品", "名称/物品", "物品名称", "项目", "设施", "设备", "事项", "内容"),
    "owner": ("责任人/单位", "责任人", "责任单位", "单位", "商户", "楼栋", "所属单位", "使用单位", "业主"),
    "contact": ("联系人", "联系人姓名", "姓名"),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码", "联系方式"),
    "due": ("到期日期", "到期日", "到期时间", "有效期至", "截止日期", "有效期", "下次检验日期", "下次年检日期"),
    "notes": ("备注", "说明"),
}
REQUIRED_COLUMNS = ("what", "due")
_REMARK = re.compile(r"[（(][^）)]*[）)]")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A sheet row that was not imported, and why (its number as Excel shows it)."""

    row: int
    reason: str

    @property
    def said(self) -> str:
        """The problem as staff read it: "第 5 行：到期日期“2026-13-01”无法识别"."""
        return f"第 {self.row} 行：{self.reason}"


def register_columns(header: list[str]) -> dict[str, int]:
    """Which column holds each field, from the header row; ExpiryError naming the columns missing."""
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = _REMARK.sub("", "".join(cell.split()))
        for field, aliases in HEADER_ALIASES.items():
            if name in aliases and field not in found:
                found[field] = index
    missing = [HEADER_ALIASES[field][0] for field in REQUIRED_COLUMNS if field not in found]
    if missing:
        raise ExpiryError(
            f"第一行表头缺少列：{'、'.join(missing)}（表头可用：类型、名称、责任人/单位、联系人、联系电话、到期日期、备注）"
        )
    return found


def sheet_drafts(
    rows: list[list[str]], *, community: str, default_kind: str, kinds: tuple[ExpiryKind, ...]
) -> tuple[list[tuple[int, ItemDraft]], list[RowProblem]]:
    """A register sheet's rows (the first non-empty row is the header) as checked drafts with their row numbers, and
    the rows that cannot be imported with the reason; a later row naming the same item as an earlier one is a
    problem, not a silent overwrite."""
    start = next((i for i, row in enumerate(rows) if any(row)), None)
    if start is None:
        raise ExpiryError("表格是空的")
    columns = register_columns(rows[start])
    drafts: list[tuple[int, ItemDraft]] = []
    problems: list[RowProblem] = []
    first_row: dict[tuple[str, str, str], int] = {}
    for number, row in enumerate(rows[start + 1 :], start=start + 2):
        if not any(row):
            continue

        def cell(field: str, row: list[str] = row) -> str:
            index = columns.get(field)
            return row[index] if index is not None and index < len(row) else ""

        try:
            due_text = cell("due")
            if not due_text:
                raise ExpiryError("到期日期为空")
            draft = ItemDraft(
                community=community,
                kind=cell("kind") or default_kind,
                what=cell("what"),
                owner=cell("owner"),
                contact=cell("contact"),
                phone=cell("phone"),
                due=parse_due_date(due_text),
                notes=cell("notes"),
            )
            draft = checked_draft(draft, kinds)
        except ExpiryError as problem:
            problems.append(RowProblem(number, str(problem)))
            continue
        earlier = first_row.get(draft.identity)
        if earlier is not None:
            problems.append(
                RowProblem(number, f"与第 {earlier} 行是同一项（{draft.kind}“{draft.what}”），只导入第一行")
            )
            continue
        first_row[draft.identity] = number
        drafts.append((number, draft))
    return drafts, problems


def _one_line(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]
