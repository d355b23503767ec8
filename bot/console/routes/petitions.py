"""Petitions (诉求) in the console: the board by status, a case with its whole history, and the moves staff make —
each through the petition desk, which tells the resident and audits it once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bot.console.web import ForbiddenError, Services, StaffSession, acting, allowed, known_communities, page, redirect
from bot.domain.errors import AssistantError
from bot.domain.petitions import (
    BoardFilter,
    Petition,
    PetitionEvent,
    PetitionMoveRefused,
    PetitionNotFoundError,
    PetitionStatus,
    staff_events,
    staff_may,
)
from bot.domain.staff import Actor, Permission, Role, StaffUser
from bot.services.petitions import case_community

router = APIRouter()
Caseworker = Annotated[StaffSession, allowed(Permission.HANDLE_PETITIONS)]
Moving = Annotated[StaffSession, acting(Permission.HANDLE_PETITIONS)]
BOARD_PAGE = 50
MAX_NOTE_CHARS = 500


def board_filter(
    user: StaffUser,
    *,
    status: PetitionStatus | None = None,
    category: str = "",
    community: str = "",
    department: str = "",
    overdue_at: datetime | None = None,
) -> BoardFilter:
    """What user may see, narrowed by the filters chosen: a handler their department's cases, a cadre their
    community's, an admin any community (or the one chosen); others may pick one department; overdue_at given, only
    the cases overdue then."""
    scope = user.community_scope
    if user.role is Role.HANDLER:
        scope = None
    elif scope is None and community:
        scope = community
    chosen = user.department_scope if user.role is Role.HANDLER else (department or None)
    return BoardFilter(status=status, category=category, community=scope, department=chosen, overdue_at=overdue_at)


def requested_filter(
    user: StaffUser, now: datetime, *, status: str, category: str, community: str, department: str, overdue: str
) -> BoardFilter:
    """The board filter a page's query asks for (as the board's links and the export's carry it), bounded, within
    what user may see."""
    return board_filter(
        user,
        status=next((s for s in PetitionStatus if s.value == status), None),
        category=category.strip()[:32],
        community=community.strip()[:128],
        department=department.strip()[:128],
        overdue_at=now if overdue else None,
    )


@router.get("/petitions", response_class=HTMLResponse)
def board(
    request: Request,
    console: Services,
    session: Caseworker,
    status: str = "",
    category: str = "",
    community: str = "",
    department: str = "",
    overdue: str = "",
    page_number: int = 1,
) -> Response:
    """Counts per status and the cases of one status (or all), newest first, 50 a page; filtered by category,
    community, department (the handler) and "只看超期"."""
    now = console.clock.now()
    shown = requested_filter(
        session.user, now, status=status, category=category, community=community, department=department, overdue=overdue
    )
    shown_status = shown.status
    category, community, department = shown.category, community.strip()[:128], department.strip()[:128]
    page_number = max(1, page_number)
    cases = console.petitions.board(shown, offset=(page_number - 1) * BOARD_PAGE, limit=BOARD_PAGE + 1)
    counts = console.petitions.counts(shown)
    communities = known_communities(console)
    return page(
        request,
        "petitions.html",
        session,
        cases=cases[:BOARD_PAGE],
        more=len(cases) > BOARD_PAGE,
        page_number=page_number,
        counts=[(s, counts.get(s, 0)) for s in PetitionStatus],
        total=sum(counts.values()),
        status=shown_status.value if shown_status else "",
        category=category,
        community=community,
        categories=console.recogniser.category_names,
        communities=communities if session.user.community_scope is None else [],
        department=department,
        departments=[] if session.user.role is Role.HANDLER else console.routing.department_names(),
        overdue="1" if overdue else "",
        now=now,
    )


@router.get("/petitions/{number}", response_class=HTMLResponse)
def case(request: Request, console: Services, session: Caseworker, number: str) -> Response:
    """One case: its fields, its whole history and the moves its status allows."""
    return _case_page(request, console, session, _visible(console, session, number))


@router.post("/petitions/{number}/move", response_class=HTMLResponse)
def move(
    request: Request,
    console: Services,
    session: Moving,
    number: str,
    event: Annotated[str, Form(max_length=32)],
    note: Annotated[str, Form(max_length=2000)] = "",
    department: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Move the case on event with a note (a reason for a rejection, a department for a dispatch)."""
    found = _visible(console, session, number)
    chosen = next((e for e in PetitionEvent if e.value == event), None)
    if chosen is None:
        return _case_page(request, console, session, found, error="不支持这个操作。", status_code=400)
    if not staff_may(chosen, handler=session.user.role is Role.HANDLER):
        raise ForbiddenError
    error = ""
    if len(note.strip()) > MAX_NOTE_CHARS:
        error = f"说明太长（最多 {MAX_NOTE_CHARS} 字），请精简。"
    elif chosen is PetitionEvent.DISPATCH and not department.strip():  # the form comes filled with the default
        error = "派单要写明派给哪个部门。"
    if error:
        return _case_page(request, console, session, found, error=error, draft=note, status_code=400)
    try:
        console.petitions.move(
            number, chosen, actor=Actor.console(session.user, ip=session.ip), note=note, department=department
        )
    except (PetitionMoveRefused, PetitionNotFoundError) as refused:  # moved meanwhile: shown as it is now
        now_found = console.petitions.case(number) or found
        return _case_page(request, console, session, now_found, error=str(refused), status_code=409)
    except AssistantError as refused:  # a rejection without a reason
        return _case_page(request, console, session, found, error=str(refused), draft=note, status_code=400)
    escalated = chosen is PetitionEvent.ESCALATE
    return redirect(f"/petitions/{number}", notice="petition_escalated" if escalated else "petition_moved")


@router.get("/petitions/{number}/photos/{photo_id}")
def photo(console: Services, session: Caseworker, number: str, photo_id: int) -> Response:
    """One photo of a case (a JPEG without EXIF), to whoever may see the case."""
    found = _visible(console, session, number)
    kept = console.photos.find(found, photo_id)
    if kept is None:
        raise ForbiddenError
    return Response(console.photos.content(kept), media_type=kept.photo.content_type)


def _visible(console: Services, session: StaffSession, number: str) -> Petition:
    found = console.petitions.case(number)
    if found is None or not session.user.sees_case(case_community(found, console.groups), found.department):
        # Another community's (or department's) case is reported exactly like a missing one.
        raise ForbiddenError
    return found


def _case_page(
    request: Request,
    console: Services,
    session: StaffSession,
    found: Petition,
    *,
    error: str = "",
    draft: str = "",
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "petition.html",
        session,
        status_code=status_code,
        case=found,
        community=case_community(found, console.groups),
        history=console.petitions.history(found),
        photos=console.photos.of_case(found),
        status_labels={s.value: s.label for s in PetitionStatus},
        event_labels={e.value: e.label for e in PetitionEvent},
        events=staff_events(found.status, handler=session.user.role is Role.HANDLER),
        default_department=found.department or console.petitions.default_department(found.number),
        now=console.clock.now(),
        error=error,
        draft=draft,
    )
