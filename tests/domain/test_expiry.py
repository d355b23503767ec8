"""The expiry register's rules: the reminder stage of an item on a local day (one table of dates), the dates and
phones staff write, the kinds list, and reading a register sheet row by row."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.expiry import (
    DEFAULT_KINDS,
    ExpiryError,
    ExpiryItem,
    ExpiryKind,
    ItemDraft,
    Stage,
    Standing,
    normalised_phone,
    parse_due_date,
    parse_kinds,
    register_columns,
    reminder_stage,
    sheet_drafts,
    standing,
)

DUE = date(2026, 12, 1)
KINDS = parse_kinds(DEFAULT_KINDS)


@pytest.mark.parametrize(
    ("today", "expected", "said"),
    [
        (date(2026, 10, 31), None, ""),  # 31 days before: nothing yet
        (date(2026, 11, 1), "before30", "还有 30 天到期"),
        (date(2026, 11, 2), "before30", "还有 29 天到期"),  # a run missed on the 30th day is made up
        (date(2026, 11, 23), "before30", "还有 8 天到期"),
        (date(2026, 11, 24), "before7", "还有 7 天到期"),
        (date(2026, 11, 30), "before7", "还有 1 天到期"),
        (date(2026, 12, 1), "due", "今天到期"),
        (date(2026, 12, 7), "due", "已过期 6 天"),  # the day's reminder, made up if it was missed
        (date(2026, 12, 8), "overdue1", "已过期 7 天"),
        (date(2026, 12, 14), "overdue1", "已过期 13 天"),
        (date(2026, 12, 15), "overdue2", "已过期 14 天"),
        (date(2027, 3, 1), "overdue12", "已过期 90 天"),
    ],
)
def test_the_reminder_stage_of_an_item_on_each_day(today: date, expected: str | None, said: str) -> None:
    stage = reminder_stage(DUE, today, (30, 7), repeat_days=7)
    assert (stage.key if stage else None) == expected
    if stage is not None:
        assert stage.said == said


def test_an_item_registered_a_few_days_before_is_reminded_once_at_the_nearest_lead() -> None:
    stage = reminder_stage(DUE, date(2026, 11, 28), (30, 7))
    assert stage is not None and stage.stage is Stage.BEFORE and stage.number == 7
    assert reminder_stage(DUE, date(2026, 9, 1), (60, 30, 7)) is None
    stage = reminder_stage(DUE, date(2026, 10, 2), (60, 30, 7))
    assert stage is not None and stage.key == "before60"


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01",
        "2026/12/1",
        "2026.12.1",
        "2026年12月1日",
        "2026 年 12 月 1 日",
        "20261201",
        "2026-12-01 00:00:00",
        "46357",
        "46357.0",
    ],
)
def test_due_dates_in_every_form_excel_and_staff_write_them(text: str) -> None:
    assert parse_due_date(text) == DUE


@pytest.mark.parametrize("text", ["2026-13-01", "2026/2/30", "明年", "12/1/2026", "1899-12-31", "123"])
def test_dates_that_are_not_dates_are_refused_quoting_them(text: str) -> None:
    with pytest.raises(ExpiryError, match=f"到期日期“{text}”无法识别"):
        parse_due_date(text)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("138 0013 8000", "13800138000"),
        ("+86-138-0013-8000", "13800138000"),
        ("010-62345678", "01062345678"),
        ("（0755）86001234", "075586001234"),
        ("6234567", "6234567"),
        ("", ""),
    ],
)
def test_phones_are_kept_as_digits(text: str, digits: str) -> None:
    assert normalised_phone(text) == digits


@pytest.mark.parametrize("text", ["12345", "1380013800a", "2380013800012"])
def test_what_is_not_a_phone_is_refused(text: str) -> None:
    with pytest.raises(ExpiryError, match="联系电话格式不对"):
        normalised_phone(text)


def test_kinds_are_parsed_with_their_lead_days_and_named_by_a_part() -> None:
    kinds = parse_kinds("灭火器/消防设施:7,30；电梯年检：60,30,7;其他")
    assert kinds == (
        ExpiryKind("灭火器/消防设施", (30, 7)),
        ExpiryKind("电梯年检", (60, 30, 7)),
        ExpiryKind("其他", (30, 7)),
    )
    assert kinds[0].matches("灭火器") and kinds[0].matches("消防设施") and not kinds[0].matches("灭火")
    for bad in ("健康证:0", "健康证:三十", ":30", ""):
        with pytest.raises(ExpiryError):
            parse_kinds(bad)


def test_standing_sorts_items_for_the_console() -> None:
    item = ExpiryItem(1, "幸福里", "健康证", "王某健康证", "张记面馆", "王某", "", DUE)
    today = date(2026, 11, 1)
    assert standing(item, today, (30, 7)) is Standing.SOON
    assert standing(item, date(2026, 10, 1), (30, 7)) is Standing.CURRENT
    assert standing(item, date(2026, 12, 2), (30, 7)) is Standing.OVERDUE
    renewed = ExpiryItem(1, "幸福里", "健康证", "王某健康证", "", "", "", date(2027, 12, 1), renewed_on=today)
    assert standing(renewed, today, (30, 7)) is Standing.RENEWED
    retired = ExpiryItem(1, "幸福里", "健康证", "王某健康证", "", "", "", DUE, retired=True)
    assert standing(retired, date(2026, 12, 2), (30, 7)) is Standing.RETIRED


def test_register_columns_read_chinese_headers_with_remarks_and_say_what_is_missing() -> None:
    columns = register_columns(
        ["序号", "类 型", "名称/物品", "责任人/单位", "联系人", "联系电话", "到期日期（年/月/日）"]
    )
    assert columns == {"kind": 1, "what": 2, "owner": 3, "contact": 4, "phone": 5, "due": 6}
    with pytest.raises(ExpiryError, match="缺少列：到期日期"):
        register_columns(["类型", "名称", "联系人"])


def test_a_sheet_is_read_row_by_row_keeping_good_rows_and_naming_each_bad_one() -> None:
    rows = [
        [],
        ["类型", "名称", "责任人/单位", "联系人", "联系电话", "到期日期", "备注"],
        ["灭火器", "3号楼2单元灭火器", "3号楼", "李师傅", "13800138000", "2026/12/1"],
        ["健康证", "王某健康证", "张记面馆", "王某", "", "2026-13-01"],
        [],
        ["", "5号楼电梯", "物业", "赵经理", "010-62345678", "2027年1月5日", "年检"],
        ["洗车证", "洗车行", "", "", "", "2027-01-01"],
        ["灭火器/消防设施", "3号楼2单元灭火器", "", "", "", "2027-01-01"],
        ["健康证", "", "", "", "", "2027-01-01"],
        ["健康证", "钱某健康证", "", "", "12345", "2027-01-01"],
        ["健康证", "孙某健康证", "", "", "", ""],
    ]
    drafts, problems = sheet_drafts(rows, community="幸福里", default_kind="电梯年检", kinds=KINDS)
    assert [(n, d.kind, d.what, d.due) for n, d in drafts] == [
        (3, "灭火器/消防设施", "3号楼2单元灭火器", DUE),
        (6, "电梯年检", "5号楼电梯", date(2027, 1, 5)),
    ]
    assert drafts[1][1] == ItemDraft(
        "幸福里", "电梯年检", "5号楼电梯", "物业", "赵经理", "01062345678", date(2027, 1, 5), "年检"
    )
    assert [p.said for p in problems] == [
        "第 4 行：到期日期“2026-13-01”无法识别，请写成 2026-12-01 这样的日期",
        "第 7 行：类型“洗车证”不在列表里（可选：灭火器/消防设施、健康证、电梯年检、其他）",
        "第 8 行：与第 3 行是同一项（灭火器/消防设施“3号楼2单元灭火器”），只导入第一行",
        "第 9 行：名称为空，请写明是什么（如“3号楼2单元灭火器”）",
        "第 10 行：联系电话格式不对，请填手机号或座机号（只写数字）",
        "第 11 行：到期日期为空",
    ]
