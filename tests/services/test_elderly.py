"""The elderly subsidy register end to end on SQLite and PostgreSQL: a spreadsheet imported (XLSX and GBK CSV), and the
daily job's reminders to the staff group and SMS to families, each resident once, phones masked and never logged."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.app import REMIND_ELDERLY_SUBSIDY, build_application
from bot.config import Settings
from bot.domain.elderly import RegisterError, SubsidyRule
from bot.domain.staff import Actor, Role, Venue
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.services.audit import StaffAudit
from bot.services.elderly import ElderlyRegister, RegisterFields
from bot.storage.channel import SqlOutbox
from bot.storage.elderly import SqlElderlyRegister
from bot.storage.staff import SqlAuditLog
from bot.tables import TableFileError, read_table
from tests.support.clock import FakeClock
from tests.support.sheets import xlsx_bytes

CADRE = Actor("李干部", Venue.CONSOLE, "li", Role.CADRE, "幸福里社区", "10.0.0.1")
STAFF_GROUP = "staff-room"


def register(sessions: sessionmaker[Session], clock: FakeClock, *, staff_group: str = STAFF_GROUP) -> ElderlyRegister:
    return ElderlyRegister(
        SqlElderlyRegister(sessions),
        clock,
        audit=StaffAudit(SqlAuditLog(sessions), clock),
        rule=SubsidyRule(80, 30),
        read_table=read_table,
        staff_group_id=staff_group,
    )


def test_an_xlsx_register_is_imported_with_each_bad_line_said_and_extra_columns_ignored(
    sessions: sessionmaker[Session],
) -> None:
    clock = FakeClock()  # 2026-11-24
    elderly = register(sessions, clock)
    data = xlsx_bytes(
        [
            ["序号", "姓名", "出生年月", "身份证号", "家属/联系人", "联系电话", "住址"],
            [1, "张三", datetime(1946, 12, 5), "110101194612051234", "李四", "138 1234 5678", "3号楼"],
            [2, "王五", "1947年1月", "", "", "", ""],
            [3, "", "1946-05", "", "", "", ""],
            [],
            [5, "赵六", "1946-13", "", "", "", ""],
            [6, "孙七", "194003", "", "孙小七", "010-12345678", ""],
            [7, "张三", "1946-12", "", "", "", ""],
        ]
    )
    summary = elderly.import_table(CADRE, community="幸福里社区", filename="高龄名单.xlsx", data=data)
    assert (summary.added, summary.updated, summary.unchanged) == (2, 0, 0)
    assert [(p.line, p.reason) for p in summary.problems] == [
        (4, "姓名没有填"),
        (6, "出生年月“1946-13”的月份不对（应为 1 到 12）"),
        (7, "联系电话要填 11 位手机号（短信只能发到手机），没有手机号就空着"),
        (8, "与第 2 行是同一位居民（姓名和出生年月相同）"),
    ]
    assert summary.ignored_columns == ("序号", "身份证号", "住址")
    kept = elderly.listed(community="幸福里社区")
    assert [(r.name, str(r.born), r.line.contact_name, r.line.contact_phone) for r in kept] == [
        ("张三", "1946-12", "李四", "13812345678"),
        ("王五", "1947-01", "", ""),
    ]
    (audited,) = SqlAuditLog(sessions).entries(limit=5)
    assert audited.action == "elderly_imported" and audited.target == "幸福里社区"
    assert "新增 2 人" in audited.detail and "1381234" not in audited.detail


def test_a_gbk_csv_reimport_updates_the_family_contact(sessions: sessionmaker[Session]) -> None:
    elderly = register(sessions, FakeClock())
    first = "姓名,出生年月,家属,电话\n张三,1946-12,李四,13812345678\n王五,194701,,\n".encode("gbk")
    assert elderly.import_table(CADRE, community="幸福里社区", filename="名单.csv", data=first).added == 2
    again = "姓名,出生年月,家属,电话\n张三,1946年12月,李小四,13900001111\n王五,1947-01,,\n".encode("gbk")
    summary = elderly.import_table(CADRE, community="幸福里社区", filename="名单.csv", data=again)
    assert (summary.added, summary.updated, summary.unchanged, summary.ignored_columns) == (0, 1, 1, ())
    assert elderly.listed(community="幸福里社区")[0].line.contact_phone == "13900001111"


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        ("姓名,电话\n张三,13812345678\n".encode(), "名单.csv", "表头里没有“出生年月”列"),
        ("姓名,出生年月\n".encode(), "名单.csv", "只有表头"),
        (b"", "名单.csv", "文件是空的"),
        (b"PK\x03\x04 not a workbook", "名单.xlsx", "不是有效的"),
    ],
)
def test_a_file_that_cannot_be_a_register_is_refused_in_chinese(
    sessions: sessionmaker[Session], data: bytes, filename: str, reason: str
) -> None:
    elderly = register(sessions, FakeClock())
    with pytest.raises((RegisterError, TableFileError), match=reason):
        elderly.import_table(CADRE, community="幸福里社区", filename=filename, data=data)
    assert elderly.listed(community=None) == []


def test_the_daily_job_reminds_cadres_and_families_once_each(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()  # 2026-11-24 17:00 local
    elderly = register(sessions, clock)
    outbox = SqlOutbox(sessions)
    for name, born, contact, phone in [
        ("张三", "1946-12", "李四", "13812345678"),  # reaches 80 next month: due, family told
        ("周八", "1946-11", "", ""),  # reaches 80 this month: due, no mobile
        ("王五", "1947-01", "王小五", "13911112222"),  # due from 2026-12-02
        ("赵六", "1940-05", "赵小六", "13700001111"),  # already 86 when registered: catch-up, no SMS
        ("钱九", "1960-01", "", ""),  # years away
    ]:
        elderly.add(CADRE, community="幸福里社区", fields=RegisterFields(name, born, contact, phone))
    elderly.add(CADRE, community="和平里社区", fields=RegisterFields("吴十", "1946-12", "", ""))
    with caplog.at_level(logging.DEBUG):
        run = elderly.run()
    assert (run.due, run.caught_up, run.sms, run.summaries) == (3, 1, 1, 2)
    queued = [q.message for q in outbox.due(now=clock.now(), limit=50)]
    sms = [m for m in queued if m.channel == "sms"]
    assert [(m.user_id, m.text) for m in sms] == [
        (
            "13812345678",
            "【幸福里社区】李四您好：您的家人张三将于2026年12月年满80周岁，可以申请高龄津贴。"
            "请联系社区工作人员了解办理方式。",
        )
    ]
    summaries = {m.text.split("】")[0]: m for m in queued if m.channel == "wechat"}
    assert set(summaries) == {"【高龄津贴提醒·幸福里社区", "【高龄津贴提醒·和平里社区"}
    ours = summaries["【高龄津贴提醒·幸福里社区"]
    assert ours.group_id == STAFF_GROUP
    assert ours.text == (
        "【高龄津贴提醒·幸福里社区】即将或本月年满80周岁、可以申请高龄津贴的居民共 2 人："
        "周八（2026年11月满，没有家属手机号，请电话或上门告知）、张三（2026年12月满，家属李四 138****5678，已发短信）；"
        "已满80周岁、此前没有提醒过的居民共 1 人（没有发短信，请核实是否已申领）：赵六（1940年5月生）。"
        "完整名单见控制台“高龄提醒”。"
    )
    logged = caplog.text
    assert "13812345678" not in logged and "张三" not in logged and "李四" not in logged
    assert elderly.run().summaries == 0  # once
    assert len(outbox.due(now=clock.now(), limit=50)) == len(queued)
    clock.advance(days=8)  # 2026-12-02: 王五's reminder is due
    later = elderly.run()
    assert (later.due, later.caught_up, later.sms) == (1, 0, 1)
    told = {r.name: r for r in elderly.listed(community="幸福里社区")}
    assert told["王五"].family_notified_at == clock.now() and told["赵六"].family_notified_at is None
    assert told["赵六"].reminded_for(80) and not told["钱九"].reminded_for(80)


def test_without_a_staff_group_nothing_is_marked_reminded(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock()
    elderly = register(sessions, clock, staff_group="")
    elderly.add(CADRE, community="幸福里社区", fields=RegisterFields("张三", "1946-12", "李四", "13812345678"))
    assert elderly.run().summaries == 0
    assert SqlOutbox(sessions).due(now=clock.now(), limit=5) == []
    assert elderly.listed(community=None)[0].reminded_at is None


def test_the_application_runs_the_job_daily_at_the_set_local_hour_with_the_settings_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    monkeypatch.setenv("BOT_ELDERLY_SUBSIDY_AGE", "70")
    monkeypatch.setenv("BOT_ELDERLY_REMIND_DAYS_BEFORE", "10")
    monkeypatch.setenv("BOT_ELDERLY_REMIND_HOUR", "8")
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=tmp_path / "kb", _env_file=None)  # type: ignore[call-arg]
    application = build_application(settings, embeddings=use_embeddings)
    assert application.elderly.rule == SubsidyRule(70, 10)
    application.start_jobs()
    try:
        (job,) = [j for j in application.scheduler.jobs() if j.name == REMIND_ELDERLY_SUBSIDY]
        assert job.next_run_at is not None
        local = job.next_run_at.astimezone(timezone(timedelta(hours=8)))
        assert (local.hour, local.minute) == (8, 0)
    finally:
        application.stop_jobs()
