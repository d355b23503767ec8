"""The one reader of staff's spreadsheets: .xlsx and .csv in the encodings Excel saves, with row numbers kept."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.tables import TableFileError, read_table
from tests.support.sheets import xlsx_bytes

ROWS = [
    ["类型", "名称", "到期日期"],
    ["灭火器", "3号楼2单元灭火器", "2026/12/1"],
    ["健康证", "张记面馆 王某", "2027年1月5日"],
]


def _csv(rows: list[list[str]], encoding: str) -> bytes:
    return "\r\n".join(",".join(row) for row in rows).encode(encoding) + b"\r\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_encoding_excel_saves_reads_the_same(encoding: str) -> None:
    assert read_table(_csv(ROWS, encoding), "登记表.CSV") == ROWS


def test_xlsx_keeps_row_numbers_across_empty_rows_and_gives_dates_as_text() -> None:
    data = xlsx_bytes([ROWS[0], None, ["电梯年检", " 5号楼电梯 ", dt.datetime(2026, 12, 1)], [None, None, None]])
    rows = read_table(data, "a.xlsx")
    assert rows[0] == ROWS[0]
    assert rows[1] == []
    assert rows[2] == ["电梯年检", "5号楼电梯", "2026-12-01 00:00:00"]
    assert len(rows) == 3


def test_csv_trims_cells_and_drops_trailing_empty_cells() -> None:
    assert read_table(b" a , b ,,\n\n", "t.csv") == [["a", "b"], []]


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"a,b\n", "t.xls", "另存为"),
        (b"a,b\n", "t.txt", "不支持的表格类型 .txt"),
        (b"  \n", "t.csv", "文件是空的"),
        (b"\x81\x30\x81", "t.csv", "编码无法识别"),
        (b"PK\x03\x04 not really a zip", "t.xlsx", "不是有效的 Excel"),
        (b'"' + b"x" * 200_000, "t.csv", "CSV 格式错误"),
    ],
)
def test_broken_tables_are_refused_with_a_chinese_reason(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(TableFileError, match=reason):
        read_table(data, name)


def test_csv_beyond_the_row_limit_is_refused() -> None:
    data = "".join(f"{i},x\n" for i in range(20_001)).encode()
    with pytest.raises(TableFileError, match="20000 行"):
        read_table(data, "many.csv")
