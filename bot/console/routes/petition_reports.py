"""Petitions as a whole: the board's cases exported to Excel, within the role's scope (a handler their department's,
a cadre their community's), each export audited."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from bot.console.routes.petitions import board_filter
from bot.console.web import Services, StaffSession, allowed
from bot.domain.petitions import PetitionStatus
from bot.domain.staff import Actor, Permission

router = APIRouter()
Caseworker = Annotated[StaffSession, allowed(Permission.HANDLE_PETITIONS)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/petitions/export.xlsx")
def export(
    console: Services, session: Caseworker, status: str = "", category: str = "", community: str = ""
) -> Response:
    """The board's cases (same filters, same scope) as a workbook, written to a scratch file and streamed from it."""
    chosen = next((s for s in PetitionStatus if s.value == status), None)
    shown = board_filter(session.user, status=chosen, category=category.strip()[:32], community=community.strip()[:128])
    handle, name = tempfile.mkstemp(prefix="petitions-", suffix=".xlsx")
    os.close(handle)
    try:
        written = console.petition_export.write(shown, Path(name), actor=Actor.console(session.user, ip=session.ip))
    except BaseException:
        os.unlink(name)
        raise
    return FileResponse(name, media_type=XLSX, filename=written.file_name, background=BackgroundTask(os.unlink, name))
