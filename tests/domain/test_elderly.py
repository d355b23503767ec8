"""The elderly register's lines and the subsidy reminder rule, by table."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.elderly import (
    BirthMonth,
    ImportSummary,
    RegisterError,
    ReminderStage,
    RowProblem,
    SubsidyRule,
    clean_mobile,
    parse_birth_month,
    register_line,
)

TODAY = date(2026, 11, 28)


@pytest.mark.parametrize(
    ("written", "born"),
    [
        ("1946-12", BirthMonth(1946, 12)),
        ("1946/2", BirthMonth(1946, 2)),
        ("1946.12", BirthMonth(1946, 12)),
        ("1946年12月", BirthMonth(1946, 12)),
        ("1946 年 3 月", BirthMonth(1946, 3)),
        ("1946年12月5日", BirthMonth(1946, 12)),
        ("194612", BirthMonth(1946, 12)),
        ("19461205", BirthMonth(1946, 12)),
        ("1946-12-05", BirthMonth(1946, 12)),
        ("1946-12-01 00:00:00", BirthMonth(1946, 12)),  # a spreadsheet's date cell
        ("17137", BirthMonth(1946, 12)),  # an Excel day number (1946-12-01)
        ("17137.0", BirthMonth(1946, 12)),
    ],
)
def test_a_birth_month_is_read_however_registers_write_it(written: str, born: BirthMonth) -> None:
    assert parse_birth_month(written, today=TODAY) == born


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("", "没有填"),
        ("1946", "看不懂"),
        ("四六年十二月", "看不懂"),
        ("1946-13", "月份不对"),
        ("194600", "月份不对"),
        ("2027-01", "不在合理范围"),
        ("1899-12", "不在合理范围"),
    ],
)
def test_a_birth_month_that_cannot_be_read_is_refused_in_chinese(written: str, reason: str) -> None:
    with pytest.raises(RegisterError, match=reason):
        parse_birth_month(written, today=TODAY)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("138 1234 5678", "13812345678"),
        ("+86-138-1234-5678", "13812345678"),
        ("13812345678.0", "13812345678"),
        ("", ""),
    ],
)
def test_a_mobile_is_kept_as_eleven_digits(typed: str, kept: str) -> None:
    assert clean_mobile(typed) == kept


@pytest.mark.parametrize("typed", ["010-12345678", "1381234567", "23812345678", "电话"])
def test_anything_but_a_mobile_is_refused(typed: str) -> None:
    with pytest.raises(RegisterError, match="11 位手机号"):
        clean_mobile(typed)


def test_a_line_keeps_names_without_spaces_and_refuses_numbers_in_a_name() -> None:
    line = register_line(" 张 三 ", "1946-12", "李四", "13812345678", today=TODAY)
    assert (line.name, line.contact_name, line.contact_phone) == ("张三", "李四", "13812345678")
    with pytest.raises(RegisterError, match="姓名没有填"):
        register_line("", "1946-12", "", "", today=TODAY)
    with pytest.raises(RegisterError, match="不能有数字"):
        register_line("张三", "1946-12", "13812345678", "", today=TODAY)


# The rule: (birth month, today, age, days ahead) → stage. Turning 80 in 2026-12 means reminded from 2026-11-01
# (30 days before 12-01) to the end of December; from 2027-01-01 on it is past.
@pytest.mark.parametrize(
    ("born", "today", "age", "days", "stage"),
    [
        (BirthMonth(1946, 12), date(2026, 10, 31), 80, 30, ReminderStage.WAITING),
        (BirthMonth(1946, 12), date(2026, 11, 1), 80, 30, ReminderStage.DUE),
        (BirthMonth(1946, 12), date(2026, 12, 31), 80, 30, ReminderStage.DUE),
        (BirthMonth(1946, 12), date(2027, 1, 1), 80, 30, ReminderStage.PAST),
        (BirthMonth(1946, 12), date(2026, 11, 1), 80, 0, ReminderStage.WAITING),
        (BirthMonth(1946, 12), date(2026, 12, 1), 80, 0, ReminderStage.DUE),
        (BirthMonth(1947, 1), date(2026, 11, 28), 80, 30, ReminderStage.WAITING),
        (BirthMonth(1947, 1), date(2026, 12, 2), 80, 30, ReminderStage.DUE),
        (BirthMonth(1940, 5), date(2026, 11, 28), 80, 30, ReminderStage.PAST),  # imported already over 80
        (BirthMonth(1956, 12), date(2026, 11, 28), 70, 30, ReminderStage.DUE),  # a place paying from 70
        (BirthMonth(1936, 12), date(2026, 11, 28), 90, 60, ReminderStage.DUE),
        (BirthMonth(1946, 2), date(2026, 1, 1), 80, 31, ReminderStage.DUE),  # across a year's end
        (BirthMonth(1946, 2), date(2025, 12, 31), 80, 31, ReminderStage.WAITING),
    ],
)
def test_the_stage_of_a_resident_on_a_day(
    born: BirthMonth, today: date, age: int, days: int, stage: ReminderStage
) -> None:
    assert SubsidyRule(age, days).stage(born, today) is stage


@pytest.mark.parametrize(
    ("today", "latest"),
    [(date(2026, 11, 28), BirthMonth(1946, 12)), (date(2026, 10, 31), BirthMonth(1946, 11))],
)
def test_the_latest_due_birth_month_agrees_with_the_stage(today: date, latest: BirthMonth) -> None:
    rule = SubsidyRule(80, 30)
    assert rule.latest_due_birth(today) == latest
    assert rule.stage(latest, today) is not ReminderStage.WAITING
    later = BirthMonth(latest.year + latest.month // 12, latest.month % 12 + 1)
    assert rule.stage(later, today) is ReminderStage.WAITING


def test_the_import_summary_names_what_was_ignored() -> None:
    summary = ImportSummary(2, 1, 0, (RowProblem(4, "姓名没有填"),), ("身份证号", "住址"))
    assert (
        summary.said
        == "新增 2 人，更新 1 人，未变 0 人；1 行没有导入；这些列不需要，已忽略、没有保存：身份证号、住址。"
    )
