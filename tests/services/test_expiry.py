"""The expiry register end to end on SQLite and PostgreSQL: add, edit, renew, retire, import from sheets (GBK CSV and
XLSX) per row with re-import updating, and the daily reminders: the contact's SMS and one summary per community in
the staff group, each sent once however often the job runs, repeated weekly until renewed."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.app import REMIND_EXPIRING_ITEMS
from bot.domain.expiry import DEFAULT_KINDS, ExpiryError, ItemDraft, Standing, parse_kinds
from bot.domain.messages import OutboundMessage
from bot.domain.outbox import SendPriority
from bot.domain.staff import Actor, Role, Venue
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.services.audit import StaffAudit
from bot.services.expiry import ExpiryRegisterDesk, ExpiryRun
from bot.storage.channel import SqlOutbox
from bot.storage.expiry import SqlExpiryRegister
from bot.storage.staff import SqlAuditLog
from tests.support.clock import FakeClock
from tests.support.services import ready_services
from tests.support.sheets import csv_as_xlsx

CADRE = Actor("李干部", Venue.CONSOLE, "li", Role.CADRE, "幸福里", "127.0.0.1")
STAFF_GROUP = "staff-room"
HEADER = "类型,名称,责任人/单位,联系人,联系电话,到期日期\r\n"


def _desk(sessions: sessionmaker[Session], clock: FakeClock) -> ExpiryRegisterDesk:
    return ExpiryRegisterDesk(
        SqlExpiryRegister(sessions),
        SqlOutbox(sessions),
        clock,
        audit=StaffAudit(SqlAuditLog(sessions), clock),
        kinds=parse_kinds(DEFAULT_KINDS),
        repeat_days=7,
        staff_group_id=STAFF_GROUP,
    )


def _local_morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)  # 09:00 in UTC+8


def _queued(sessions: sessionmaker[Session], clock: FakeClock) -> list[OutboundMessage]:
    return [q.message for q in SqlOutbox(sessions).due(now=clock.now() + timedelta(days=1), limit=1000)]


def _draft(what: str, due: date, *, kind: str = "健康证", phone: str = "13800138000") -> ItemDraft:
    return ItemDraft("幸福里", kind, what, "张记面馆", "王某", phone, due)


@pytest.fixture
def clock() -> FakeClock:
    clock = FakeClock()
    clock.current = _local_morning(date(2026, 11, 1))
    return clock


def test_reminders_go_out_once_per_stage_to_the_contact_and_the_staff_group(
    sessions: sessionmaker[Session], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    desk = _desk(sessions, clock)
    certificate = desk.add(CADRE, _draft("王某健康证", date(2026, 12, 1)))
    desk.add(CADRE, _draft("3号楼灭火器", date(2026, 11, 20), kind="灭火器", phone=""))
    desk.add(CADRE, _draft("5号楼电梯", date(2027, 6, 1), kind="电梯年检"))  # far off: nothing
    with caplog.at_level(logging.INFO, logger="bot.services.expiry"):
        run = desk.run()
    assert len(run.reminded) == 2 and run.texts_queued == 1 and run.summaries == ("幸福里",)
    assert "13800138000" not in caplog.text and "138****8000" in caplog.text
    sms, summary = sorted(_queued(sessions, clock), key=lambda m: m.channel)
    assert sms == OutboundMessage(
        "sms",
        "【到期提醒】您负责的“王某健康证”（健康证）还有 30 天到期（2026年12月1日），请及时办理续期，办好后请告知社区。——幸福里",
        user_id="13800138000",
    )
    assert summary.group_id == STAFF_GROUP and summary.channel == "wechat"
    assert summary.text.startswith(
        "【到期提醒 幸福里】即将到期：3号楼灭火器（灭火器/消防设施，11月20日，还有 19 天到期）、"
    )
    waiting = SqlOutbox(sessions).due(now=clock.now(), limit=10)
    assert {q.priority for q in waiting} == {SendPriority.BULK}  # answers to residents go first
    # A rerun the same day, or from a second process, sends nothing.
    assert desk.run().reminded == () and len(_queued(sessions, clock)) == 2
    late = desk.add(CADRE, _draft("赵某健康证", date(2026, 11, 5)))
    with ThreadPoolExecutor(2) as pool:  # two processes' runs at once: the item is reminded by one of them
        runs = list(pool.map(lambda _: desk.run(), range(2)))
    assert sorted(i for r in runs for i in r.reminded) == [late.id] and len(_queued(sessions, clock)) == 3
    # Next day: the same stage, nothing new; at 7 days before, the next stage.
    clock.current = _local_morning(date(2026, 11, 2))
    assert desk.run() == ExpiryRun((), 0, ())  # nobody is told twice, the staff group neither
    clock.current = _local_morning(date(2026, 11, 24))
    assert certificate.id in desk.run().reminded
    texts = [m.text for m in _queued(sessions, clock) if m.channel == "sms"]
    assert any(text.startswith("【到期提醒】您负责的“王某健康证”（健康证）还有 7 天到期") for text in texts)
    # Overdue: on the day, then weekly until renewed.
    reminded_on = []
    for day in range(1, 30):
        clock.current = _local_morning(date(2026, 12, 1) + timedelta(days=day - 1))
        if certificate.id in desk.run().reminded:
            reminded_on.append(day - 1)
    assert reminded_on == [0, 7, 14, 21, 28]
    assert any("王某健康证”（健康证）已过期 28 天" in m.text for m in _queued(sessions, clock))
    renewed = desk.renew(CADRE, desk.get(certificate.id) or certificate, date(2027, 12, 1))
    assert renewed.renewed_on == desk.today() and renewed.due == date(2027, 12, 1)
    clock.current += timedelta(days=7)
    assert certificate.id not in desk.run().reminded


def test_import_per_row_updates_rather_than_duplicates_and_reports_bad_rows(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    desk = _desk(sessions, clock)
    sheet = (
        HEADER + "健康证,王某健康证,张记面馆,王某,13800138000,2026/12/1\r\n健康证,钱某健康证,李记,钱某,,2026-13-01\r\n"
    )
    report = desk.import_table(CADRE, sheet.encode("gbk"), "登记表.csv", community="幸福里", default_kind="其他")
    assert (report.counts.created, report.counts.updated, len(report.problems)) == (1, 0, 1)
    assert report.problems[0].said.startswith("第 3 行：到期日期“2026-13-01”无法识别")
    assert report.said.startswith("新增 1 项，更新 0 项，未变 0 项，1 行未导入")
    again = desk.import_table(CADRE, sheet.encode("utf-8-sig"), "登记表.csv", community="幸福里", default_kind="其他")
    assert (again.counts.created, again.counts.updated, again.counts.unchanged) == (0, 0, 1)
    renewed = sheet.replace("2026/12/1", "2027年12月1日").replace("2026-13-01", "2027-01-01")
    third = desk.import_table(CADRE, csv_as_xlsx(renewed), "登记表.xlsx", community="幸福里", default_kind="其他")
    assert (third.counts.created, third.counts.updated, third.problems) == (1, 1, ())
    items = {listed.item.what: listed for listed in desk.listed(community="幸福里")}
    assert items["王某健康证"].item.due == date(2027, 12, 1) and items["王某健康证"].standing is Standing.RENEWED
    assert [i.item.what for i in desk.listed(community="别的社区")] == []
    with pytest.raises(ExpiryError, match=r"请上传 \.xlsx 或 \.csv"):
        desk.import_table(CADRE, b"x", "a.doc", community="幸福里", default_kind="其他")
    with pytest.raises(ExpiryError, match="缺少列：到期日期"):
        desk.import_table(CADRE, "名称\r\n灭火器\r\n".encode(), "a.csv", community="幸福里", default_kind="其他")


def test_edit_retire_and_same_item_twice(sessions: sessionmaker[Session], clock: FakeClock) -> None:
    desk = _desk(sessions, clock)
    item = desk.add(CADRE, _draft("王某健康证", date(2026, 11, 10)))
    with pytest.raises(ExpiryError, match="已有同类型、同名称"):
        desk.add(CADRE, _draft("王某健康证", date(2027, 1, 1)))
    edited = desk.edit(CADRE, item, _draft("王某健康证", date(2026, 11, 5), phone="010-62345678"))
    assert edited.phone == "01062345678" and edited.renewed_on is None
    with pytest.raises(ExpiryError, match="应晚于今天"):
        desk.renew(CADRE, edited, date(2026, 10, 1))
    assert desk.retire(CADRE, edited) and not desk.retire(CADRE, edited)
    assert desk.listed(community="幸福里") == [] and len(desk.listed(community="幸福里", shown=Standing.RETIRED)) == 1
    assert desk.run().reminded == ()  # retired: never reminded
    actions = [e.action for e in StaffAudit(SqlAuditLog(sessions), clock).entries(limit=10)]
    assert sorted(actions) == ["expiry_item_added", "expiry_item_retired", "expiry_item_updated"]


def test_the_application_runs_the_reminders_daily_at_the_configured_local_hour(
    tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    application = ready_services(tmp_path / "data", use_embeddings, expiry_remind_hour=7, staff_group_id=STAFF_GROUP)
    assert application.expiry.run() == ExpiryRun((), 0, ())  # the job the scheduler calls, on an empty register
    application.start_jobs()
    try:
        (job,) = [j for j in application.scheduler.jobs() if j.job_id == REMIND_EXPIRING_ITEMS]
        assert job.next_run_at is not None
        local = job.next_run_at.astimezone(timezone(timedelta(hours=8)))
        assert (local.hour, local.minute) == (7, 0)
    finally:
        application.stop_jobs()


def test_a_run_after_one_that_stopped_half_way_still_names_every_item_reminded_that_day(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    desk = _desk(sessions, clock)
    first = desk.add(CADRE, _draft("王某健康证", date(2026, 11, 8), phone=""))
    desk.add(CADRE, _draft("钱某健康证", date(2026, 11, 8), phone=""))
    # A run reminded the first item, then the process died before the staff group's summary was queued.
    assert SqlExpiryRegister(sessions).remind(
        first.id, "2026-11-08:before7", on=desk.today(), at=clock.now(), messages=[]
    )
    run = desk.run()
    assert run.reminded != () and first.id not in run.reminded and run.summaries == ("幸福里",)
    (summary,) = _queued(sessions, clock)
    assert "王某健康证" in summary.text and "钱某健康证" in summary.text and "共 2 项" in summary.text
