"""到期提醒 in the console: cadres (their community) and admins (any) keep the expiry register: the list by due date
with filters, add and edit, mark renewed with the new date, retire, and import a sheet with its result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from bot.console.web import ForbiddenError, Services, StaffSession, acting, allowed, known_communities, page, redirect
from bot.domain.errors import AssistantError
from bot.domain.expiry import ExpiryError, ExpiryItem, ItemDraft, Standing, parse_due_date
from bot.domain.staff import Actor, Permission
from bot.services.expiry import ImportReport, ListedItem

router = APIRouter()
Keeper = Annotated[StaffSession, allowed(Permission.MANAGE_REGISTERS)]
Editing = Annotated[StaffSession, acting(Permission.MANAGE_REGISTERS)]
# The filters of the list, in the order shown.
FILTERS = (Standing.SOON, Standing.OVERDUE, Standing.RENEWED, Standing.CURRENT, Standing.RETIRED)
Text = Annotated[str, Form(max_length=400)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class ItemForm:
    """The fields of the add and edit forms, as typed."""

    kind: str
    what: str
    owner: str
    contact: str
    phone: str
    due: str
    notes: str

    def draft(self, community: str) -> ItemDraft:
        """The item the form describes in community; ExpiryError for a date that is not one."""
        fields = (self.kind, self.what, self.owner, self.contact, self.phone)
        return ItemDraft(community, *fields, parse_due_date(self.due), self.notes)


def item_form(
    what: Text, due: Text, kind: Text = "", owner: Text = "", contact: Text = "", phone: Text = "", notes: Text = ""
) -> ItemForm:
    """The add or edit form's fields."""
    return ItemForm(kind, what, owner, contact, phone, due, notes)


Typed = Annotated[ItemForm, Depends(item_form)]


@router.get("/expiry", response_class=HTMLResponse)
def register(request: Request, console: Services, session: Keeper) -> Response:
    """The items this account may see, earliest due first, filtered by standing and kind; the add and import forms."""
    return _register_page(request, console, session)


@router.get("/expiry/export.xlsx")
def export(request: Request, console: Services, session: Keeper) -> Response:
    """The items listed (same filters, same scope) as a workbook that can be edited and imported again."""
    data = console.expiry.export(_actor(session), _listed(request, console, session))
    name = quote(f"到期登记-{console.expiry.today().isoformat()}.xlsx")
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f"attachment; filename*=utf-8''{name}"})


@router.post("/expiry", response_class=HTMLResponse)
def add(request: Request, console: Services, session: Editing, typed: Typed, community: Text = "") -> Response:
    """Register one item in the account's community (an admin names one)."""
    try:
        console.expiry.add(_actor(session), typed.draft(_community(session, community)))
    except AssistantError as refused:
        return _register_page(request, console, session, error=str(refused), draft=typed, status_code=400)
    return redirect("/expiry", notice="expiry_added")


@router.post("/expiry/import", response_class=HTMLResponse)
def import_sheet(
    request: Request,
    console: Services,
    session: Editing,
    file: Annotated[UploadFile, File()],
    kind: Text = "",
    community: Text = "",
) -> Response:
    """Import a register sheet (.xlsx or .csv, UTF-8 or GBK): the good rows saved, each bad row shown with its
    reason; kind is used for rows (or sheets) without one."""
    limit = int(console.settings.upload_max_mb * 1024 * 1024)
    data = file.file.read(limit + 1)
    try:
        if len(data) > limit:
            raise ExpiryError(f"文件超过 {console.settings.upload_max_mb:g} MB，请拆分后再导入")
        report = console.expiry.import_table(
            _actor(session), data, file.filename or "", community=_community(session, community), default_kind=kind
        )
    except AssistantError as refused:
        return _register_page(request, console, session, error=str(refused), status_code=400)
    return _register_page(request, console, session, report=report)


@router.get("/expiry/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, console: Services, session: Keeper, item_id: int) -> Response:
    """One item: the edit form, the renewal form and retiring."""
    return _item_page(request, session, console, _visible(console, session, item_id))


@router.post("/expiry/{item_id}", response_class=HTMLResponse)
def edit(request: Request, console: Services, session: Editing, item_id: int, typed: Typed) -> Response:
    """Save an item's fields (a later due date counts as renewed today)."""
    item = _visible(console, session, item_id)
    try:
        console.expiry.edit(_actor(session), item, typed.draft(item.community))
    except AssistantError as refused:
        return _item_page(request, session, console, item, error=str(refused), typed=typed, status_code=400)
    return redirect("/expiry", notice="expiry_saved")


@router.post("/expiry/{item_id}/renew", response_class=HTMLResponse)
def renew(request: Request, console: Services, session: Editing, item_id: int, due: Text) -> Response:
    """Mark an item renewed with its new due date; its reminders start anew."""
    item = _visible(console, session, item_id)
    try:
        console.expiry.renew(_actor(session), item, parse_due_date(due))
    except AssistantError as refused:
        return _item_page(request, session, console, item, error=str(refused), status_code=400)
    return redirect("/expiry", notice="expiry_renewed")


@router.post("/expiry/{item_id}/retire", response_class=HTMLResponse)
def retire(console: Services, session: Editing, item_id: int) -> Response:
    """Stop keeping an item (shop closed, equipment removed): never reminded again."""
    console.expiry.retire(_actor(session), _visible(console, session, item_id))
    return redirect("/expiry", notice="expiry_retired")


def _register_page(
    request: Request,
    console: Services,
    session: StaffSession,
    *,
    error: str = "",
    draft: ItemForm | None = None,
    report: ImportReport | None = None,
    status_code: int = 200,
) -> Response:
    params = request.query_params
    scope = session.user.community_scope
    return page(
        request,
        "expiry.html",
        session,
        status_code=status_code,
        items=_listed(request, console, session),
        filters=FILTERS,
        shown=params.get("standing", ""),
        kind=params.get("kind", ""),
        kinds=[k.name for k in console.expiry.kinds],
        communities=known_communities(console) if scope is None else [],
        community=params.get("community", "").strip() if scope is None else scope,
        today=console.expiry.today(),
        error=error,
        draft=draft or ItemForm("", "", "", "", "", "", ""),
        report=report,
    )


def _listed(request: Request, console: Services, session: StaffSession) -> list[ListedItem]:
    """The items the list shows: the filters in the query, within the account's scope."""
    params = request.query_params
    shown = next((f for f in FILTERS if f.value == params.get("standing", "")), None)
    scope = session.user.community_scope
    if scope == "":
        return []  # a cadre without a community sees none
    community = params.get("community", "").strip() or None if scope is None else scope
    return console.expiry.listed(community=community, shown=shown, kind=params.get("kind", ""))


def _item_page(
    request: Request,
    session: StaffSession,
    console: Services,
    item: ExpiryItem,
    *,
    error: str = "",
    typed: ItemForm | None = None,
    status_code: int = 200,
) -> Response:
    shown = typed or ItemForm(
        item.kind, item.what, item.owner, item.contact, item.phone, item.due.isoformat(), item.notes
    )
    return page(
        request,
        "expiry_item.html",
        session,
        status_code=status_code,
        item=item,
        form=shown,
        kinds=[k.name for k in console.expiry.kinds],
        error=error,
    )


def _community(session: StaffSession, chosen: str) -> str:
    """The community an addition or import goes to: the account's, or the one an admin chose."""
    scope = session.user.community_scope
    return scope if scope is not None else chosen.strip()


def _actor(session: StaffSession) -> Actor:
    return Actor.console(session.user, ip=session.ip)


def _visible(console: Services, session: StaffSession, item_id: int) -> ExpiryItem:
    item = console.expiry.get(item_id)
    if item is None or not session.user.sees_community(item.community):
        raise ForbiddenError  # another community's item is reported exactly like a missing one
    return item
