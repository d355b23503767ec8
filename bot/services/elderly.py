"""高龄津贴双提醒: the register of older residents cadres keep (imported from a spreadsheet or edited in the console),
and the daily job that reminds the staff group of residents reaching the subsidy age and tells their families by SMS,
each resident once. The register is personal data: its phones are masked wherever they are shown but the edit form,
never logged, and never logged beside a name."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby

from bot.domain.elderly import (
    ElderlyResident,
    ImportSummary,
    RegisterError,
    RegisterLine,
    ReminderBatch,
    ReminderRun,
    ReminderStage,
    RowProblem,
    SubsidyRule,
    register_line,
)
from bot.domain.messages import OutboundMessage, one_line
from bot.domain.privacy import mask_personal_data
from bot.domain.staff import Actor
from bot.ports import Clock, ElderlyRegisterStore
from bot.services.audit import StaffAudit

log = logging.getLogger(__name__)

# The register's columns as spreadsheets head them; any other column is ignored and never kept.
NAME, BORN, CONTACT, PHONE = "姓名", "出生年月", "家属/联系人", "联系电话"
_HEADERS = {
    NAME: {"姓名", "老人姓名", "居民姓名"},
    BORN: {"出生年月", "出生日期", "出生年月日", "出生时间"},
    CONTACT: {"家属/联系人", "家属", "联系人", "家属联系人", "家属姓名", "联系人姓名", "家属或联系人"},
    PHONE: {"联系电话", "电话", "手机", "手机号", "手机号码", "家属电话", "联系人电话", "家属手机"},
}
# Residents named in one section of the staff group's summary (the rest are counted; the console lists all).
SUMMARY_NAMED = 10
SOURCE = "elderly"

ReadTable = Callable[[bytes, str], list[list[str]]]


class ElderlyRegister:
    """Keeps a community's register of older residents and sends the subsidy reminders (cadres and families)."""

    def __init__(
        self,
        store: ElderlyRegisterStore,
        clock: Clock,
        *,
        audit: StaffAudit,
        rule: SubsidyRule,
        read_table: ReadTable,
        staff_group_id: str = "",
        staff_channel: str = "wechat",
        sms_channel: str = "sms",
        utc_offset: timedelta = timedelta(hours=8),
    ) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit
        self._rule = rule
        self._read_table = read_table
        self._staff_group_id = staff_group_id
        self._staff_channel = staff_channel
        self._sms_channel = sms_channel
        self._utc_offset = utc_offset

    @property
    def rule(self) -> SubsidyRule:
        """The subsidy age and how far ahead reminders go."""
        return self._rule

    def today(self) -> date:
        """The local date now."""
        return (self._clock.now() + self._utc_offset).date()

    def stage(self, resident: ElderlyResident) -> ReminderStage:
        """Where a resident stands today against the subsidy age."""
        return self._rule.stage(resident.born, self.today())

    def listed(self, *, community: str | None) -> list[ElderlyResident]:
        """The register (one community's, or every one's for None), the oldest first."""
        return self._store.listed(community=community)

    def get(self, resident_id: int) -> ElderlyResident | None:
        """One resident by id."""
        return self._store.get(resident_id)

    def import_table(self, actor: Actor, *, community: str, filename: str, data: bytes) -> ImportSummary:
        """Import a register spreadsheet (XLSX, or CSV in UTF-8 or GBK) into a community: new residents added, known
        ones' family contact updated, each bad line refused with its reason, other columns ignored; audited once.
        RegisterError (or the table reader's error) when the file as a whole cannot be used."""
        community = _community(community)
        rows = self._read_table(data, filename)
        header_at = next((n for n, row in enumerate(rows) if any(row)), None)
        if header_at is None:
            raise RegisterError("表格是空的")
        columns, ignored = _columns(rows[header_at])
        today = self.today()
        lines: list[RegisterLine] = []
        problems: list[RowProblem] = []
        first_seen: dict[tuple[str, int, int], int] = {}
        for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
            if not any(row):
                continue
            cells = {name: row[at] if at is not None and at < len(row) else "" for name, at in columns.items()}
            try:
                line = register_line(cells[NAME], cells[BORN], cells[CONTACT], cells[PHONE], today=today)
            except RegisterError as refused:
                problems.append(RowProblem(number, str(refused)))
                continue
            identity = (line.name, line.born.year, line.born.month)
            if identity in first_seen:
                problems.append(RowProblem(number, f"与第 {first_seen[identity]} 行是同一位居民（姓名和出生年月相同）"))
                continue
            first_seen[identity] = number
            lines.append(line)
        if not lines and not problems:
            raise RegisterError("表格里只有表头，没有居民")
        added, updated, unchanged = self._store.import_lines(lines, community=community, now=self._clock.now())
        summary = ImportSummary(added, updated, unchanged, tuple(problems), ignored)
        self._audit.record_as(
            actor,
            "elderly_imported",
            target=community,
            detail=f"{mask_personal_data(one_line(filename, limit=80))}：{summary.said}",
        )
        return summary

    def add(self, actor: Actor, *, community: str, fields: RegisterFields) -> ElderlyResident:
        """Register one resident in a community; audited (name and birth month, never the phone)."""
        community = _community(community)
        resident = self._store.add(self._line(fields), community=community, now=self._clock.now())
        self._audit.record_as(actor, "elderly_added", target=community, detail=_named(resident))
        return resident

    def edit(self, actor: Actor, resident: ElderlyResident, fields: RegisterFields) -> ElderlyResident:
        """Replace a resident's line (a corrected birth month is reminded anew); audited."""
        edited = self._store.edit(resident.id, self._line(fields), now=self._clock.now())
        if edited is None:
            raise RegisterError("这位居民已从名单中删除")
        self._audit.record_as(actor, "elderly_updated", target=resident.community, detail=_named(edited))
        return edited

    def delete(self, actor: Actor, resident: ElderlyResident) -> bool:
        """Remove a resident and everything kept of them; audited; False when already gone."""
        done = self._store.delete(resident.id)
        if done:
            self._audit.record_as(actor, "elderly_deleted", target=resident.community, detail=_named(resident))
        return done

    def run(self) -> ReminderRun:
        """The daily job: for each community, the residents reaching the age soon (an SMS to each family contact with
        a mobile) and those already past it never reminded (a catch-up, no SMS) go to the staff group in one summary;
        each resident is reminded once for the age, marked with the messages in one transaction."""
        if not self._staff_group_id:
            log.warning("elderly subsidy reminders not sent: no staff group is set (BOT_STAFF_GROUP_ID)")
            return ReminderRun()
        today, now = self.today(), self._clock.now()
        found = self._store.unreminded(born_by=self._rule.latest_due_birth(today), age=self._rule.age)
        run = ReminderRun()
        for community, residents in groupby(found, key=lambda r: r.community):
            staged = [(r, self._rule.stage(r.born, today)) for r in residents]
            soon = [r for r, stage in staged if stage is ReminderStage.DUE]
            past = [r for r, stage in staged if stage is ReminderStage.PAST]
            if not soon and not past:
                continue
            family = tuple((r.id, self._family_notice(r, today)) for r in soon if r.line.contact_phone)
            summary = OutboundMessage(
                self._staff_channel, self._summary(community, soon, past, today), group_id=self._staff_group_id
            )
            batch = ReminderBatch(community, self._rule.age, tuple(soon + past), family, summary)
            if self._store.remind(batch, now=now):
                run = run.plus(batch, due=len(soon))
        if run.summaries:
            log.info("elderly subsidy reminders: %d due, %d caught up, %d SMS queued", run.due, run.caught_up, run.sms)
        return run

    def _line(self, fields: RegisterFields) -> RegisterLine:
        return register_line(fields.name, fields.born, fields.contact_name, fields.contact_phone, today=self.today())

    def _reaching(self, resident: ElderlyResident, today: date) -> str:
        """When the resident reaches the age, as families and cadres read it."""
        turning = resident.born.turning(self._rule.age)
        if (turning.year, turning.month) == (today.year, today.month):
            return f"本月年满{self._rule.age}周岁"
        return f"将于{turning.year}年{turning.month}月年满{self._rule.age}周岁"

    def _family_notice(self, resident: ElderlyResident, today: date) -> OutboundMessage:
        """The SMS to a resident's family contact."""
        greeting = f"{resident.line.contact_name}您好" if resident.line.contact_name else "您好"
        text = (
            f"【{resident.community}】{greeting}：您的家人{resident.name}{self._reaching(resident, today)}，"
            "可以申请高龄津贴。请联系社区工作人员了解办理方式。"
        )
        return OutboundMessage(self._sms_channel, text, user_id=resident.line.contact_phone)

    def _summary(
        self, community: str, soon: Sequence[ElderlyResident], past: Sequence[ElderlyResident], today: date
    ) -> str:
        """The staff group's reminder for one community (names, birth months and masked phones only)."""
        age = self._rule.age
        parts = []
        if soon:
            named = "、".join(self._soon_entry(r, today) for r in soon[:SUMMARY_NAMED])
            parts.append(f"即将或本月年满{age}周岁、可以申请高龄津贴的居民{_counted(soon)}：{named}")
        if past:
            named = "、".join(f"{r.name}（{r.born.label}生）" for r in past[:SUMMARY_NAMED])
            parts.append(
                f"已满{age}周岁、此前没有提醒过的居民{_counted(past)}（没有发短信，请核实是否已申领）：{named}"
            )
        return f"【高龄津贴提醒·{community}】" + "；".join(parts) + "。完整名单见控制台“高龄提醒”。"

    def _soon_entry(self, resident: ElderlyResident, today: date) -> str:
        turning = resident.born.turning(self._rule.age)
        line = resident.line
        if line.contact_phone:
            who = f"家属{line.contact_name}" if line.contact_name else "家属"
            told = f"{who} {mask_personal_data(line.contact_phone)}，已发短信"
        else:
            told = "没有家属手机号，请电话或上门告知"
        return f"{resident.name}（{turning.year}年{turning.month}月满，{told}）"


@dataclass(frozen=True, slots=True)
class RegisterFields:
    """A resident's line as staff typed it on the console's form (checked by the register)."""

    name: str
    born: str
    contact_name: str = ""
    contact_phone: str = ""


def _columns(header: Sequence[str]) -> tuple[dict[str, int | None], tuple[str, ...]]:
    """Which column holds each of the register's fields, and the headers of the columns ignored."""
    at: dict[str, int | None] = dict.fromkeys(_HEADERS)
    ignored: list[str] = []
    for column, cell in enumerate(header):
        title = "".join(cell.split()).replace("／", "/")
        field = next((name for name, titles in _HEADERS.items() if title in titles), None)
        if field is not None and at[field] is None:
            at[field] = column
        elif title:
            ignored.append(one_line(cell, limit=20))
    missing = [name for name in (NAME, BORN) if at[name] is None]
    if missing:
        raise RegisterError(
            f"表头里没有“{'”“'.join(missing)}”列；第一行应为：姓名、出生年月、家属/联系人、联系电话（后两列可以没有）"
        )
    return at, tuple(ignored)


def _community(community: str) -> str:
    chosen = one_line(community, limit=128)
    if not chosen:
        raise RegisterError("请选择居民所属的社区")
    return chosen


def _counted(residents: Sequence[ElderlyResident]) -> str:
    return (
        f"共 {len(residents)} 人"
        if len(residents) <= SUMMARY_NAMED
        else f"共 {len(residents)} 人，前 {SUMMARY_NAMED} 位"
    )


def _named(resident: ElderlyResident) -> str:
    return f"{resident.name}（{resident.born.label}）"
