"""高龄提醒 in the console: the register of older residents for the subsidy reminders. Cadres see and edit their
community's, admins any; handlers none. Phones are masked in the list and shown whole only on a resident's edit form;
imports and edits are audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from bot.console.web import (
    ForbiddenError,
    Services,
    StaffSession,
    acting,
    allowed,
    known_communities,
    page,
    redirect,
)
from bot.domain.elderly import ElderlyResident, ImportSummary
from bot.domain.errors import AssistantError
from bot.domain.privacy import mask_personal_data
from bot.domain.staff import Actor, Permission
from bot.services.elderly import RegisterFields

router = APIRouter()
Keeper = Annotated[StaffSession, allowed(Permission.MANAGE_REGISTERS)]
Editing = Annotated[StaffSession, acting(Permission.MANAGE_REGISTERS)]
Text = Annotated[str, Form(max_length=200)]


@router.get("/elderly", response_class=HTMLResponse)
def register_page(request: Request, console: Services, session: Keeper, community: str = "") -> Response:
    """The register this account may see (the oldest first, phones masked), the import and the add forms."""
    return _register_page(request, console, session, shown=community)


@router.post("/elderly/import", response_class=HTMLResponse)
def import_register(
    request: Request,
    console: Services,
    session: Editing,
    file: Annotated[UploadFile, File()],
    community: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Import a register spreadsheet into the account's community (an admin names one); the page then says what was
    added, updated and refused, line by line. A plain route: the file is read on a worker thread."""
    data = file.file.read(console.knowledge.upload_limit + 1)
    if len(data) > console.knowledge.upload_limit:
        return _register_page(request, console, session, error="文件太大了，请拆分成几个文件", status_code=400)
    try:
        summary = console.elderly.import_table(
            Actor.console(session.user, ip=session.ip),
            community=_community(session, community),
            filename=file.filename or "",
            data=data,
        )
    except AssistantError as refused:
        return _register_page(request, console, session, error=f"没有导入：{refused}", status_code=400)
    return _register_page(request, console, session, summary=summary)


@router.post("/elderly", response_class=HTMLResponse)
def add(
    request: Request,
    console: Services,
    session: Editing,
    name: Text,
    born: Text,
    contact_name: Text = "",
    contact_phone: Text = "",
    community: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Register one resident by hand."""
    fields = RegisterFields(name, born, contact_name, contact_phone)
    try:
        console.elderly.add(
            Actor.console(session.user, ip=session.ip), community=_community(session, community), fields=fields
        )
    except AssistantError as refused:
        return _register_page(request, console, session, error=str(refused), draft=fields, status_code=400)
    return redirect("/elderly", notice="elderly_added")


@router.get("/elderly/{resident_id}", response_class=HTMLResponse)
def edit_form(request: Request, console: Services, session: Keeper, resident_id: int) -> Response:
    """One resident's form, the family's phone shown whole."""
    resident = _visible(console, session, resident_id)
    return _form_page(request, console, session, resident)


@router.post("/elderly/{resident_id}", response_class=HTMLResponse)
def save(
    request: Request,
    console: Services,
    session: Editing,
    resident_id: int,
    name: Text,
    born: Text,
    contact_name: Text = "",
    contact_phone: Text = "",
) -> Response:
    """Save a resident's line (a corrected birth month is reminded anew)."""
    resident = _visible(console, session, resident_id)
    fields = RegisterFields(name, born, contact_name, contact_phone)
    try:
        console.elderly.edit(Actor.console(session.user, ip=session.ip), resident, fields)
    except AssistantError as refused:
        return _form_page(request, console, session, resident, error=str(refused), draft=fields, status_code=400)
    return redirect("/elderly", notice="elderly_saved")


@router.post("/elderly/{resident_id}/delete", response_class=HTMLResponse)
def delete(console: Services, session: Editing, resident_id: int) -> Response:
    """Take a resident off the register (nothing of them is kept)."""
    resident = _visible(console, session, resident_id)
    console.elderly.delete(Actor.console(session.user, ip=session.ip), resident)
    return redirect("/elderly", notice="elderly_deleted")


def _register_page(
    request: Request,
    console: Services,
    session: StaffSession,
    *,
    shown: str = "",
    summary: ImportSummary | None = None,
    draft: RegisterFields | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    scope = session.user.community_scope
    if scope is None:
        residents = console.elderly.listed(community=shown.strip() or None)
    else:
        residents = console.elderly.listed(community=scope) if scope else []
    admin = scope is None
    rule = console.elderly.rule
    return page(
        request,
        "elderly.html",
        session,
        status_code=status_code,
        rows=[(r, console.elderly.stage(r), mask_personal_data(r.line.contact_phone)) for r in residents],
        rule=rule,
        admin=admin,
        communities=known_communities(console) if admin else [],
        shown=shown,
        summary=summary,
        draft=draft or RegisterFields("", ""),
        staff_group=bool(console.settings.staff_group_id),
        remind_hour=console.settings.elderly_remind_hour,
        error=error,
    )


def _form_page(
    request: Request,
    console: Services,
    session: StaffSession,
    resident: ElderlyResident,
    *,
    draft: RegisterFields | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    line = resident.line
    shown = draft or RegisterFields(line.name, str(line.born), line.contact_name, line.contact_phone)
    return page(
        request,
        "elderly_form.html",
        session,
        status_code=status_code,
        resident=resident,
        stage=console.elderly.stage(resident),
        draft=shown,
        rule=console.elderly.rule,
        error=error,
    )


def _community(session: StaffSession, chosen: str) -> str:
    """The community an import or a new resident goes to: a cadre's own, the one an admin chose."""
    scope = session.user.community_scope
    return scope if scope is not None else chosen.strip()


def _visible(console: Services, session: StaffSession, resident_id: int) -> ElderlyResident:
    resident = console.elderly.get(resident_id)
    if resident is None or not session.user.sees_community(resident.community):
        raise ForbiddenError  # another community's resident is reported exactly like a missing one
    return resident
