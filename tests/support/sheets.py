"""Spreadsheets as staff hand them over: an Excel workbook in memory, written with the real library."""

from __future__ import annotations

import io


def xlsx_bytes(rows: list[list[object] | None]) -> bytes:
    """An .xlsx whose first sheet holds rows from A1 (a None row, or a None cell, is left empty)."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row or [], start=1):
            if value is not None:
                sheet.cell(row=number, column=column, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_as_xlsx(text: str) -> bytes:
    """A simple CSV text (no quoting) as the same sheet in .xlsx."""
    return xlsx_bytes([line.split(",") for line in text.strip().splitlines()])
