"""到期提醒: the expiry register's use cases. Staff add, edit, renew and retire items or import them from a sheet
(per row: the good rows are saved, each bad row is reported with its reason); the daily job reminds each item's
contact by SMS and sums up each community's items for the staff group, 30 and 7 days before (per kind), on the day,
then every week until the item is renewed."""

from __future__ import annotations

import io
import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta

from bot.domain.expiry import (
    ExpiryError,
    ExpiryItem,
    ExpiryKind,
    ImportCounts,
    ItemDraft,
    ReminderStage,
    RowProblem,
    Stage,
    Standing,
    checked_draft,
    kind_named,
    reminder_key,
    reminder_stage,
    sheet_drafts,
    standing,
)
from bot.domain.messages import OutboundMessage
from bot.domain.outbox import SendPriority
from bot.domain.petition_reports import spreadsheet_text
from bot.domain.privacy import mask_personal_data
from bot.domain.staff import Actor
from bot.ports import Clock, ExpiryStore, Outbox
from bot.services.audit import StaffAudit
from bot.tables import TableFileError, read_table

log = logging.getLogger(__name__)

SMS_CHANNEL = "sms"
# An export's columns: the import's headers, and the standing (ignored when imported again).
EXPORT_HEADER = ("类型", "名称", "责任人/单位", "联系人", "联系电话", "到期日期", "备注", "状态")
# Items one run looks at (the earliest due first), and items named in a community's summary.
RUN_LIMIT = 2000
_SUMMARY_NAMED = 15
_SUMMARY_CHARS = 1000


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: the counts of the good rows saved, and every row not imported with its reason."""

    counts: ImportCounts
    problems: tuple[RowProblem, ...]

    @property
    def said(self) -> str:
        """The one-line summary staff see ("新增 3 项，更新 1 项，未变 0 项，2 行未导入")."""
        c = self.counts
        text = f"新增 {c.created} 项，更新 {c.updated} 项，未变 {c.unchanged} 项"
        return (
            f"{text}，{len(self.problems)} 行未导入（见下方原因，改好后可整表重新导入，不会重复）"
            if self.problems
            else text
        )


@dataclass(frozen=True, slots=True)
class ListedItem:
    """An item as the console lists it: where it stands and the reminder stage it is in today."""

    item: ExpiryItem
    standing: Standing
    stage: ReminderStage | None


@dataclass(frozen=True, slots=True)
class ExpiryRun:
    """One run of the daily job: the items reminded (ids), the texts to contacts queued, the communities summed up."""

    reminded: tuple[int, ...]
    texts_queued: int
    summaries: tuple[str, ...]


class ExpiryRegisterDesk:
    """The expiry register: items staff keep, imports from sheets, and the daily reminders."""

    def __init__(
        self,
        store: ExpiryStore,
        outbox: Outbox,
        clock: Clock,
        *,
        audit: StaffAudit,
        kinds: tuple[ExpiryKind, ...],
        repeat_days: int = 7,
        staff_group_id: str = "",
        staff_channel: str = "wechat",
        utc_offset: timedelta = timedelta(hours=8),
        limit: int = RUN_LIMIT,
    ) -> None:
        """kinds: the kinds staff may register, with their lead days; repeat_days: how often an overdue item is
        reminded again; staff_group_id: the staff WeChat group the summaries go to (none: contacts only)."""
        self._store = store
        self._outbox = outbox
        self._clock = clock
        self._audit = audit
        self._kinds = kinds
        self._repeat_days = repeat_days
        self._staff_group_id = staff_group_id
        self._staff_channel = staff_channel
        self._utc_offset = utc_offset
        self._limit = limit

    @property
    def kinds(self) -> tuple[ExpiryKind, ...]:
        """The kinds staff may register."""
        return self._kinds

    def today(self) -> date:
        """The local day (the settings' UTC offset)."""
        return (self._clock.now() + self._utc_offset).date()

    def get(self, item_id: int) -> ExpiryItem | None:
        """One item by id."""
        return self._store.get(item_id)

    def listed(self, *, community: str | None, shown: Standing | None = None, kind: str = "") -> list[ListedItem]:
        """Items of one community (every community's for None), earliest due first, optionally only those standing
        so or of one kind; retired items only when asked for."""
        today = self.today()
        listed: list[ListedItem] = []
        for item in self._store.listed(community=community):
            lead = kind_named(self._kinds, item.kind).lead_days
            where = standing(item, today, lead)
            if (shown is None and where is Standing.RETIRED) or (shown is not None and where is not shown):
                continue
            if kind and item.kind != kind:
                continue
            stage = None if item.retired else reminder_stage(item.due, today, lead, self._repeat_days)
            listed.append(ListedItem(item, where, stage))
        return listed

    def add(self, actor: Actor, draft: ItemDraft) -> ExpiryItem:
        """Register a new item (checked first); audited once."""
        checked = checked_draft(draft, self._kinds)
        item = self._store.add(checked, by=actor.name, now=self._clock.now())
        self._audit.record_as(actor, "expiry_item_added", target=item.community, detail=_named(item))
        return item

    def edit(self, actor: Actor, item: ExpiryItem, draft: ItemDraft) -> ExpiryItem:
        """Change an item's fields (its community stays); a later due date counts as renewed today; audited."""
        checked = checked_draft(replace(draft, community=item.community), self._kinds)
        edited = self._store.edit(item.id, checked, today=self.today(), by=actor.name, now=self._clock.now())
        self._audit.record_as(actor, "expiry_item_updated", target=item.community, detail=_named(edited))
        return edited

    def renew(self, actor: Actor, item: ExpiryItem, due: date) -> ExpiryItem:
        """Record a renewal: the new due date, which must be later than today; reminders start anew for it."""
        if due <= self.today():
            raise ExpiryError("续期后的到期日期应晚于今天")
        renewed = self._store.renew(item.id, due, on=self.today(), by=actor.name, now=self._clock.now())
        if renewed is None:
            raise ExpiryError("没有找到这一项，可能已被删除")
        detail = f"{_named(item)}：{item.due.isoformat()} → {due.isoformat()}"
        self._audit.record_as(actor, "expiry_item_renewed", target=item.community, detail=detail)
        return renewed

    def retire(self, actor: Actor, item: ExpiryItem) -> bool:
        """Stop keeping an item (no more reminders); audited; False if it was retired already."""
        done = self._store.retire(item.id, by=actor.name, now=self._clock.now())
        if done:
            self._audit.record_as(actor, "expiry_item_retired", target=item.community, detail=_named(item))
        return done

    def import_table(
        self, actor: Actor, data: bytes, filename: str, *, community: str, default_kind: str
    ) -> ImportReport:
        """Import a register sheet (.xlsx, or .csv in UTF-8 or GBK; the first row is the header) into community:
        per row, the good rows saved in one transaction and each bad row reported with its reason; an item already
        registered (same community, kind and name) is updated, never copied. ExpiryError (a TableFileError for a
        broken file) when nothing can be read; audited once."""
        if not community.strip():
            raise ExpiryError("请选择所属社区")
        try:
            rows = read_table(data, filename)
        except TableFileError as broken:
            raise ExpiryError(str(broken)) from None
        drafts, problems = sheet_drafts(rows, community=community, default_kind=default_kind, kinds=self._kinds)
        counts = self._store.import_drafts(
            [draft for _, draft in drafts], today=self.today(), by=actor.name, now=self._clock.now()
        )
        report = ImportReport(counts, tuple(problems))
        self._audit.record_as(actor, "expiry_imported", target=community, detail=f"{filename[:60]}：{report.said}")
        return report

    def export(self, actor: Actor, listed: list[ListedItem]) -> bytes:
        """The items listed as a workbook with the import's headers (so it can be edited and imported again): text
        cells (a landline keeps its leading 0), the due date a date cell, never a formula; audited."""
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("到期登记")
        sheet.append(list(EXPORT_HEADER))
        for shown in listed:
            item = shown.item
            texts = (item.kind, item.what, item.owner, item.contact, item.phone)
            sheet.append(
                [*(spreadsheet_text(t) for t in texts), item.due, spreadsheet_text(item.notes), shown.standing.label]
            )
        buffer = io.BytesIO()
        workbook.save(buffer)
        communities = "、".join(sorted({shown.item.community for shown in listed})) or "（无）"
        self._audit.record_as(actor, "expiry_exported", target=communities[:128], detail=f"{len(listed)} 项")
        return buffer.getvalue()

    # ------------------------------------------------------------ the daily job

    def run(self) -> ExpiryRun:
        """One run (the daily job): each item kept whose reminder stage today was not reminded yet gets it (its
        contact's SMS queued with the stage kept, in one transaction), and each community with items reminded today
        gets one summary of them in the staff group (keyed by community and day: a rerun, or a run after one that
        stopped half-way, sends it once and with every item reminded that day)."""
        now, today = self._clock.now(), self.today()
        longest = max((max(k.lead_days) for k in self._kinds), default=0)
        staged: dict[str, list[tuple[ExpiryItem, ReminderStage]]] = defaultdict(list)
        reminded: list[int] = []
        texts = 0
        for item in self._store.due_by(today + timedelta(days=longest), limit=self._limit):
            stage = reminder_stage(item.due, today, kind_named(self._kinds, item.kind).lead_days, self._repeat_days)
            if stage is None:
                continue
            key = reminder_key(item, stage)
            if item.last_reminder == key:
                if item.reminded_on == today:  # reminded by an earlier run today: still in today's summary
                    staged[item.community].append((item, stage))
                continue
            messages = (
                [OutboundMessage(SMS_CHANNEL, contact_text(item, stage), user_id=item.phone)] if item.phone else []
            )
            if self._store.remind(item.id, key, on=today, at=now, messages=messages):
                staged[item.community].append((item, stage))
                reminded.append(item.id)
                texts += len(messages)
                if messages:
                    log.info("expiry reminder %s of item %s queued to %s", key, item.id, mask_personal_data(item.phone))
        summaries: list[str] = []
        if self._staff_group_id:
            for community, items in sorted(staged.items()):
                message = OutboundMessage(
                    self._staff_channel, staff_summary(community, items), group_id=self._staff_group_id
                )
                key = f"expiry:summary:{community}:{today.isoformat()}"
                queued = self._outbox.enqueue(
                    message, now=now, source="expiry:summary", dedupe_key=key, priority=SendPriority.BULK
                )
                if queued:
                    summaries.append(community)
        return ExpiryRun(tuple(reminded), texts, tuple(summaries))


def contact_text(item: ExpiryItem, stage: ReminderStage) -> str:
    """The SMS to an item's contact: short plain Chinese, what, when, what to do, and who sends it."""
    ask = "请尽快办理" if stage.stage is not Stage.BEFORE else "请及时办理续期"
    due = f"{item.due.year}年{item.due.month}月{item.due.day}日"
    return (
        f"【到期提醒】您负责的“{item.what}”（{item.kind}）{stage.said}（{due}），"
        f"{ask}，办好后请告知社区。——{item.community}"
    )


def staff_summary(community: str, items: list[tuple[ExpiryItem, ReminderStage]]) -> str:
    """One community's summary for the staff group: overdue first, then due today, then soon; a few named each."""
    groups: dict[str, list[tuple[ExpiryItem, ReminderStage]]] = {"已过期": [], "今天到期": [], "即将到期": []}
    for item, stage in items:
        label = "已过期" if stage.days_left < 0 else "今天到期" if stage.days_left == 0 else "即将到期"
        groups[label].append((item, stage))
    parts = []
    for label, shown in groups.items():
        if not shown:
            continue
        named = "、".join(_summary_line(item, stage) for item, stage in shown[:_SUMMARY_NAMED])
        more = f"等 {len(shown)} 项" if len(shown) > _SUMMARY_NAMED else f"共 {len(shown)} 项"
        parts.append(f"{label}：{named}，{more}")
    text = f"【到期提醒 {community}】" + "；".join(parts) + "。续期后请在控制台“到期提醒”里登记新日期。"
    return text[:_SUMMARY_CHARS]


def _summary_line(item: ExpiryItem, stage: ReminderStage) -> str:
    when = "" if stage.days_left == 0 else f"，{stage.said}"
    return f"{item.what}（{item.kind}，{item.due.month}月{item.due.day}日{when}）"


def _named(item: ExpiryItem) -> str:
    return f"{item.kind}“{item.what}”"
