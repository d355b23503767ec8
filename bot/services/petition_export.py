"""The petitions of a board's scope as an Excel workbook: written row by row in openpyxl's write-only mode from
batches of cases, so a district's year never sits in memory at once; every export is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from bot.domain.petition_reports import EXPORT_COLUMNS, spreadsheet_text
from bot.domain.petitions import BoardFilter, Petition
from bot.domain.staff import Actor
from bot.ports import Clock, PetitionStatistics
from bot.services.audit import StaffAudit

SHEET_TITLE = "诉求"
EXPORT_ACTION = "petitions_exported"


@dataclass(frozen=True, slots=True)
class Export:
    """What an export wrote: the workbook's file name for the download, and how many cases it holds."""

    file_name: str
    rows: int


class PetitionExport:
    """Writes the cases a board filter matches to a workbook (one row per case, the columns of EXPORT_COLUMNS, times
    in the console's zone, the resident's name masked) and records who exported what."""

    def __init__(
        self,
        cases: PetitionStatistics,
        audit: StaffAudit,
        clock: Clock,
        *,
        utc_offset: timedelta,
        batch_size: int = 1000,
    ) -> None:
        self._cases = cases
        self._audit = audit
        self._clock = clock
        self._zone = timezone(utc_offset)
        self._batch_size = batch_size

    def write(self, shown: BoardFilter, target: Path | IO[bytes], *, actor: Actor) -> Export:
        """Write the cases shown matches to target (an .xlsx file, or an open binary file) and audit it: who, the
        filter, how many rows."""
        now = self._clock.now()
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(SHEET_TITLE)
        sheet.append(EXPORT_COLUMNS)
        rows = 0
        for batch in self._cases.in_batches(shown, size=self._batch_size):
            for petition in batch:
                sheet.append(self.row(petition, now))
            rows += len(batch)
        workbook.save(target)
        self._audit.record_as(actor, EXPORT_ACTION, target="诉求导出", detail=f"{_described(shown)}；{rows} 条")
        return Export(f"诉求导出-{now.astimezone(self._zone):%Y%m%d-%H%M}.xlsx", rows)

    def row(self, petition: Petition, now: datetime) -> tuple[str | datetime | None, ...]:
        """One case as a sheet row: text cells guarded against formulas, times local (without a zone, as Excel
        keeps them)."""
        reporter = petition.reporter
        return (
            petition.number,
            _cell(petition.category),
            petition.status.label,
            petition.urgency.label,
            _cell(petition.location),
            _cell(petition.description),
            _cell(reporter.group_name or ("私聊" if not reporter.group_id else reporter.group_id)),
            _cell(reporter.masked_name),
            _cell(petition.department),
            self._local(petition.created_at),
            self._local(petition.resolved_at),
            self._local(petition.due_at),
            ("是" if petition.overdue(now) else "否") if petition.due_at is not None else "",
            petition.rating.label if petition.rating else "",
            _cell(petition.note),
        )

    def _local(self, moment: datetime | None) -> datetime | None:
        return moment.astimezone(self._zone).replace(tzinfo=None) if moment is not None else None


def _cell(text: str) -> str:
    """Residents' and staff's text as a safe cell: characters a workbook cannot hold dropped, no formula."""
    return spreadsheet_text(ILLEGAL_CHARACTERS_RE.sub("", text))


def _described(shown: BoardFilter) -> str:
    """The filter in staff's words, for the audit trail."""
    parts = [
        f"状态：{shown.status.label}" if shown.status else "",
        f"类别：{shown.category}" if shown.category else "",
        f"社区：{shown.community}" if shown.community is not None else "",
        f"部门：{shown.department}" if shown.department is not None else "",
        "只看超期" if shown.overdue_at is not None else "",
    ]
    return "，".join(p for p in parts if p) or "全部诉求"
