"""Read the spreadsheets staff keep (Excel .xlsx, or .csv in UTF-8 or GBK) into rows of text, within fixed bounds.

One reader for every table staff hand the assistant: the knowledge base's FAQ sheets and the registers alike.
Every way a table fails to read ends as TableFileError with a reason staff can act on, in Chinese.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

from bot.domain.errors import AssistantError

TABLE_SUFFIXES = (".xlsx", ".csv")
# Bounds on what one file may make the reader do: a small file must not claim (or unpack to) an unbounded amount.
TABLE_MAX_ROWS = 20_000
TABLE_MAX_COLUMNS = 50
CELL_MAX_CHARS = 20_000
PACKAGE_MAX_UNPACKED_MB = 64
PARSE_MAX_SECONDS = 60.0
# What a file claims to be, for the reason given when its library cannot read it.
FORMAT_NAMES = {".xlsx": " Excel（.xlsx）", ".docx": " Word（.docx）", ".pdf": " PDF "}


class TableFileError(AssistantError):
    """A table that cannot be read; the message is a reason staff can act on, in Chinese."""


class Deadline:
    """The time one file's parse may take; past it the file is refused rather than left to run."""

    def __init__(self, seconds: float = PARSE_MAX_SECONDS) -> None:
        self._seconds = seconds
        self._end = time.monotonic() + seconds

    def check(self) -> None:
        """Refuse the file once its time is up."""
        if time.monotonic() > self._end:
            raise TableFileError(f"文件太大或太复杂，{self._seconds:.0f} 秒内没有读完，请拆分成几个文件")


def read_table(data: bytes, filename: str, *, deadline: Deadline | None = None) -> list[list[str]]:
    """The first sheet of an .xlsx, or a .csv (UTF-8 with or without BOM, or GBK/GB18030), as rows of trimmed text.

    rows[i] is the table's row i + 1 (an empty row is []), so a row's number in an error is the one staff see in
    Excel; trailing empty cells are dropped. Raises TableFileError with a Chinese reason when the file is broken.
    """
    suffix = PurePath(filename).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        hint = "，请在 Excel 里“另存为 → Excel 工作簿（.xlsx）”" if suffix == ".xls" else ""
        raise TableFileError(f"不支持的表格类型 {suffix or '（无扩展名）'}，请上传 .xlsx 或 .csv 文件{hint}")
    if not data.strip():
        raise TableFileError("文件是空的")
    deadline = deadline or Deadline()
    try:
        if suffix == ".xlsx":
            return xlsx_rows(data, deadline)
        return csv_rows(decode_table_text(data), deadline)
    except TableFileError:
        raise
    except Exception as exc:  # whatever the reader library raises on a damaged file is that file's problem
        raise TableFileError(unreadable_reason(suffix, exc)) from None


def decode_table_text(data: bytes) -> str:
    """Decode a CSV as Excel saves it: UTF-8 (with or without BOM) or, on Chinese Windows, GBK/GB18030."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise TableFileError(
                f"文件编码无法识别（第 {exc.start} 字节），请在 Excel 里另存为“CSV UTF-8”或 .xlsx"
            ) from None


def csv_rows(text: str, deadline: Deadline) -> list[list[str]]:
    """A decoded CSV's records as rows within the table's bounds."""
    rows: list[list[str]] = []
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            if number % 1000 == 0:
                deadline.check()
            rows.append(_table_row(number, row))
    except csv.Error as exc:
        raise TableFileError(f"CSV 格式错误：{exc}") from None
    return rows


def xlsx_rows(data: bytes, deadline: Deadline) -> list[list[str]]:
    """An .xlsx package's first sheet as rows within the table's bounds (rows[i] is the sheet's row i + 1)."""
    from openpyxl import load_workbook

    check_package(data)
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    rows: list[list[str]] = []
    try:
        for number, cells in _xlsx_cells(workbook, deadline):
            rows.extend([] for _ in range(number - 1 - len(rows)))  # rows the sheet leaves out are empty
            rows.append(cells)
    finally:
        workbook.close()
    return rows


def _xlsx_cells(workbook: Any, deadline: Deadline) -> Iterator[tuple[int, list[str]]]:
    """The first sheet's non-empty rows with their numbers, streamed cell by cell: the sheet's own claim of its size
    (`<dimension>`) is never trusted, empty cells are skipped without being materialised, and the table's bounds are
    checked as cells come."""
    from openpyxl.worksheet._reader import WorkSheetParser
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    row_tag, cell_tag = f"{{{SHEET_MAIN_NS}}}row", f"{{{SHEET_MAIN_NS}}}c"
    # openpyxl's own cell parser turns shared strings, inline strings, numbers and dates into values.
    sheet = workbook.worksheets[0]
    cell_parser = WorkSheetParser(
        None,
        sheet._shared_strings,
        data_only=True,
        epoch=workbook.epoch,
        date_formats=workbook._date_formats,
        timedelta_formats=workbook._timedelta_formats,
    )
    number, seen, values, in_cell = 0, 0, dict[int, str](), False
    open_elements: list[Any] = []
    with sheet._get_source() as source:
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                open_elements.append(element)
                in_cell = in_cell or element.tag == cell_tag
                if element.tag == row_tag:
                    claimed = element.get("r")
                    number = int(float(claimed)) if claimed else number + 1
                    cell_parser.row_counter, cell_parser.col_counter, values = number, 0, {}
                continue
            open_elements.pop()
            if element.tag == cell_tag:
                in_cell = False
                seen += 1
                if seen % 1000 == 0:
                    deadline.check()
                cell = cell_parser.parse_cell(element)
                text = _clean(cell["value"])
                if text:
                    _check_cell(number, cell["column"], text)
                    values[cell["column"]] = text
            elif element.tag == row_tag:
                deadline.check()
                if values:
                    yield number, [values.get(column, "") for column in range(1, max(values) + 1)]
            # Keep nothing already read (a cell's own parts go with the cell): memory stays that of one cell.
            if open_elements and not in_cell:
                open_elements[-1].remove(element)


def check_package(data: bytes) -> None:
    """Refuse a zip package (XLSX, DOCX) that would unpack to more than the bound (a "zip bomb")."""
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        unpacked = sum(info.file_size for info in package.infolist())
    if unpacked > PACKAGE_MAX_UNPACKED_MB * 1024 * 1024:
        raise TableFileError(f"文件解压后超过 {PACKAGE_MAX_UNPACKED_MB} MB，请删减或拆分成几个文件")


def unreadable_reason(suffix: str, exc: Exception) -> str:
    """The reason given when a reader library cannot read a file of this type (its error's first line)."""
    detail = first_line(str(exc)) or type(exc).__name__
    name = FORMAT_NAMES.get(suffix)
    return f"不是有效的{name}文件，可能已损坏：{detail}" if name else f"文件无法读取：{detail}"


def first_line(text: str) -> str:
    """A library message's first line, cut to a length fit for an error shown to staff."""
    return text.strip().split("\n", 1)[0][:160]


def _table_row(number: int, cells: list[str]) -> list[str]:
    """One row of a table within the table's bounds, cells trimmed, trailing empty cells dropped."""
    cells = [cell.strip() for cell in cells]
    while cells and not cells[-1]:
        cells.pop()
    for column, text in enumerate(cells, start=1):
        if text:
            _check_cell(number, column, text)
    return cells


def _check_cell(row: int, column: int, text: str) -> None:
    """Refuse a table with content beyond the row or column bound, or a cell longer than the text bound."""
    if row > TABLE_MAX_ROWS:
        raise TableFileError(f"表格超过 {TABLE_MAX_ROWS} 行（第 {row} 行还有内容），请拆分成几个文件")
    if column > TABLE_MAX_COLUMNS:
        raise TableFileError(f"表格超过 {TABLE_MAX_COLUMNS} 列（第 {row} 行第 {column} 列还有内容）")
    if len(text) > CELL_MAX_CHARS:
        raise TableFileError(f"第 {row} 行第 {column} 列的内容太长（最多 {CELL_MAX_CHARS} 字）")


def _clean(value: object) -> str:
    return "" if value is None else str(value).strip()
