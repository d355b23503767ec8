"""门牌码 in the console: cadres (their community) and admins (any) make codes in bulk, switch them off, and print a
sheet of QR codes to post on buildings and doors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bot.console.web import ForbiddenError, Services, StaffSession, acting, allowed, known_communities, page, redirect
from bot.domain.door_codes import MAX_UNITS, DoorCode
from bot.domain.errors import AssistantError
from bot.domain.staff import Actor, Permission

router = APIRouter()
Keeper = Annotated[StaffSession, allowed(Permission.MANAGE_DOOR_CODES)]
Making = Annotated[StaffSession, acting(Permission.MANAGE_DOOR_CODES)]


@router.get("/door-codes", response_class=HTMLResponse)
def codes(request: Request, console: Services, session: Keeper) -> Response:
    """The codes this account may see (a cadre's community's; an admin's every one) and the form to make more."""
    return _codes_page(request, console, session)


@router.post("/door-codes", response_class=HTMLResponse)
def create(
    request: Request,
    console: Services,
    session: Making,
    places: Annotated[str, Form(max_length=2000)],
    units: Annotated[int, Form(ge=0, le=MAX_UNITS)] = 0,
    community: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Make codes for "1-12号楼" or a list of places (per unit when asked), in the account's community (an admin
    names one)."""
    scope = session.user.community_scope
    chosen = scope if scope is not None else community.strip()
    try:
        made = console.door_codes.create(
            Actor.console(session.user, ip=session.ip), community=chosen, places=places, units=units
        )
    except AssistantError as refused:
        return _codes_page(request, console, session, error=str(refused), draft=places, status_code=400)
    return redirect(f"/door-codes?first={made[0].id}&last={made[-1].id}", notice=f"door_codes_created:{len(made)}")


@router.post("/door-codes/{code_id}/deactivate", response_class=HTMLResponse)
def deactivate(console: Services, session: Making, code_id: int) -> Response:
    """Switch a code off: its page then says it no longer works (the cases filed from it stay)."""
    code = _visible(console, session, code_id)
    console.door_codes.deactivate(Actor.console(session.user, ip=session.ip), code)
    return redirect("/door-codes", notice="door_code_deactivated")


@router.get("/door-codes/sheet", response_class=HTMLResponse)
def sheet(
    request: Request, console: Services, session: Keeper, first: int = 0, last: int = 0, community: str = ""
) -> Response:
    """A printable A4 sheet of the active codes shown (one batch by its first and last id, or all), each with its
    place, its QR code (SVG) and "扫码反映问题"."""
    shown = [c for c in _shown(console, session, community) if c.active and _in_batch(c, first, last)]
    return page(
        request,
        "door_sheet.html",
        session,
        cards=[(code, console.door_codes.qr_svg(code), console.door_codes.link(code)) for code in shown],
    )


def _codes_page(
    request: Request,
    console: Services,
    session: StaffSession,
    *,
    error: str = "",
    draft: str = "",
    status_code: int = 200,
) -> Response:
    params = request.query_params
    first, last = params.get("first", ""), params.get("last", "")
    batch = f"first={first}&last={last}" if first.isdigit() and last.isdigit() else ""
    admin = session.user.community_scope is None
    communities = known_communities(console)
    return page(
        request,
        "door_codes.html",
        session,
        status_code=status_code,
        codes=_shown(console, session, ""),
        batch=batch,
        communities=communities if admin else [],
        max_units=MAX_UNITS,
        error=error,
        draft=draft,
    )


def _shown(console: Services, session: StaffSession, community: str) -> list[DoorCode]:
    scope = session.user.community_scope
    if scope is None:
        return console.door_codes.listed(community=community.strip() or None)
    return console.door_codes.listed(community=scope) if scope else []


def _in_batch(code: DoorCode, first: int, last: int) -> bool:
    return not (first and last) or first <= code.id <= last


def _visible(console: Services, session: StaffSession, code_id: int) -> DoorCode:
    code = console.door_codes.get(code_id)
    if code is None or not session.user.sees_community(code.community):
        raise ForbiddenError  # another community's code is reported exactly like a missing one
    return code
