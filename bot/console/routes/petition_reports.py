"""Petitions as a whole: the board's cases exported to Excel, within the role's scope (a handler their department's,
a cadre their community's), each export audited."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, Annotated
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from bot.console.routes.petitions import requested_filter
from bot.console.web import Services, StaffSession, allowed
from bot.domain.staff import Actor, Permission

router = APIRouter()
Caseworker = Annotated[StaffSession, allowed(Permission.HANDLE_PETITIONS)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 64 * 1024


@router.get("/petitions/export.xlsx")
def export(
    console: Services,
    session: Caseworker,
    status: str = "",
    category: str = "",
    community: str = "",
    department: str = "",
    overdue: str = "",
) -> Response:
    """The board's cases (same filters, same scope) as a workbook, written to an unnamed scratch file (gone when
    closed, even if the download is broken off) and streamed from it."""
    shown = requested_filter(
        session.user,
        console.clock.now(),
        status=status,
        category=category,
        community=community,
        department=department,
        overdue=overdue,
    )
    scratch = tempfile.TemporaryFile()
    try:
        written = console.petition_export.write(shown, scratch, actor=Actor.console(session.user, ip=session.ip))
        scratch.seek(0)
    except BaseException:
        scratch.close()
        raise
    disposition = f"attachment; filename*=utf-8''{quote(written.file_name)}"
    return StreamingResponse(_chunks(scratch), media_type=XLSX, headers={"Content-Disposition": disposition})


def _chunks(scratch: IO[bytes]) -> Iterator[bytes]:
    with scratch:
        while block := scratch.read(CHUNK):
            yield block
