"""The 门牌码 phone page, without sign-in: a resident who scanned a code files a petition (the place filled in, a
photo if they like) and follows their cases there. A device cookie identifies the phone (only its hash is stored);
the form carries a token derived from it (CSRF); a case is shown only to the phone that filed it."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from bot.console.web import Services, client_ip, page
from bot.domain.door_codes import DoorCode, DoorCodeNotFoundError
from bot.domain.errors import AssistantError
from bot.domain.petitions import PetitionEvent, PetitionMoveRefused, PetitionStatus, Rating, find_case_number
from bot.services.door_codes import PageSubmission, address_id, device_id

router = APIRouter()
DEVICE_COOKIE = "qr_device"
_DEVICE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_YEAR_S = 365 * 24 * 3600
# Moves whose note the resident reads on the page (the reason, what was done); a dispatch's names the department.
_NOTES_SHOWN = frozenset({PetitionEvent.RESOLVE, PetitionEvent.REJECT, PetitionEvent.MERGE, PetitionEvent.REOPEN})
_FILED = "filed"
_FILED_NO_PHOTO = "filed_no_photo"
_ANSWERED = "answered"
_REOPEN = "reopen"


def form_token(cookie: str) -> str:
    """The form's CSRF token: derived from the device cookie, which another site can neither read nor set."""
    return hmac.new(cookie.encode(), b"door-code-form", hashlib.sha256).hexdigest()


def _device(request: Request) -> str:
    """The phone's device cookie ("" when it has none yet, or a malformed one)."""
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    return cookie if _DEVICE_TOKEN.match(cookie) else ""


def _remember(response: Response, request: Request, cookie: str) -> Response:
    """Set the device cookie when the phone did not send it."""
    if request.cookies.get(DEVICE_COOKIE) != cookie:
        secure = request.app.state.services.settings.secure_cookies
        response.set_cookie(
            DEVICE_COOKIE, cookie, max_age=_YEAR_S, path="/m", httponly=True, samesite="lax", secure=secure
        )
    return response


@router.get("/m/{token}", response_class=HTMLResponse)
def form(request: Request, console: Services, token: str) -> Response:
    """The page a 门牌码 opens: the place, "请描述问题", a photo, a contact phone; and the phone's own cases."""
    try:
        code = console.door_codes.open(token)
    except DoorCodeNotFoundError as missing:
        return _problem(request, str(missing))
    cookie = _device(request) or secrets.token_urlsafe(32)
    return _remember(_form_page(request, console, code, cookie), request, cookie)


@router.post("/m/{token}", response_class=HTMLResponse)
def submit(
    request: Request,
    console: Services,
    token: str,
    text: Annotated[str, Form(max_length=5000)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    form_id: Annotated[str, Form(max_length=64)] = "",
    photo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """File the petition through the petition desk, or show the form again with the reason and what was written."""
    try:
        code = console.door_codes.open(token)
    except DoorCodeNotFoundError as missing:
        return _problem(request, str(missing))
    cookie = _device(request)
    if not cookie or not hmac.compare_digest(csrf_token, form_token(cookie)):
        cookie = cookie or secrets.token_urlsafe(32)
        expired = "页面已过期，请再点一次“提交”。"
        return _remember(_form_page(request, console, code, cookie, text, phone, expired, 403), request, cookie)
    content = photo.file.read(console.photos.max_bytes + 1) if photo is not None and photo.filename else None
    sent = PageSubmission(text=text, phone=phone, photo=content or None, form_id=form_id)
    device = device_id(cookie)
    try:
        filed = console.door_codes.submit(code, sent, device=device, address=address_id(client_ip(request)))
    except AssistantError as refused:
        return _form_page(request, console, code, cookie, text, phone, str(refused), 400)
    notice = _FILED_NO_PHOTO if filed.photo_problem else _FILED
    return Response(status_code=303, headers={"Location": f"/m/{token}/case/{filed.petition.number}?ok={notice}"})


@router.get("/m/{token}/case", response_class=HTMLResponse)
def find(request: Request, console: Services, token: str, number: str = "") -> Response:
    """ "查进展" with a number typed in: to that case's page (shown only if this phone filed it)."""
    found = find_case_number(number[:40])
    if found is None:
        return _problem(request, "请填写诉求编号，比如 2026-0012。", status_code=400, token=token)
    return Response(status_code=303, headers={"Location": f"/m/{token}/case/{found}"})


@router.get("/m/{token}/case/{number}", response_class=HTMLResponse)
def follow(request: Request, console: Services, token: str, number: str) -> Response:
    """A case this phone filed: where it stands and each step taken (the resident is told of moves here)."""
    try:
        code = console.door_codes.open(token, filing=False)
    except DoorCodeNotFoundError as missing:
        return _problem(request, str(missing))
    cookie = _device(request)
    petition = console.door_codes.followed(number, device=device_id(cookie)) if cookie else None
    if petition is None:  # another phone's case looks exactly like a missing one
        return _problem(request, "没有找到这个诉求。只能查看用这部手机提交的诉求。", status_code=404, token=code.token)
    statuses = {s.value: s.label for s in PetitionStatus}
    steps = [
        (statuses.get(t.to_status, t.to_status), t.at, t.note if PetitionEvent(t.event) in _NOTES_SHOWN else "")
        for t in console.door_codes.progress(petition)
    ]
    ok = request.query_params.get("ok", "")
    return page(
        request,
        "phone_case.html",
        None,
        code=code,
        case=petition,
        steps=steps,
        filed=ok in {_FILED, _FILED_NO_PHOTO},
        photo_lost=ok == _FILED_NO_PHOTO,
        answered=ok == _ANSWERED,
        asks_verdict=petition.status is PetitionStatus.RESOLVED,
        ratings=list(Rating),
        form_token=form_token(cookie),
    )


@router.post("/m/{token}/case/{number}/answer", response_class=HTMLResponse)
def answer(
    request: Request,
    console: Services,
    token: str,
    number: str,
    verdict: Annotated[str, Form(max_length=32)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """The resident's answer to their resolved case: a rating closes it, "没解决" reopens it, as in chat."""
    try:
        code = console.door_codes.open(token, filing=False)
    except DoorCodeNotFoundError as missing:
        return _problem(request, str(missing))
    cookie = _device(request)
    petition = console.door_codes.followed(number, device=device_id(cookie)) if cookie else None
    if petition is None:
        return _problem(request, "没有找到这个诉求。只能查看用这部手机提交的诉求。", token=code.token)
    if not hmac.compare_digest(csrf_token, form_token(cookie)):
        return _problem(request, "页面已过期，请返回后再试一次。", status_code=403, token=code.token)
    ratings = {rating.value: rating for rating in Rating}
    if verdict not in ratings and verdict != _REOPEN:
        return _problem(request, "请选择“满意”“基本满意”“不满意”或“没解决”。", status_code=400, token=code.token)
    try:
        console.door_codes.answer(petition, ratings.get(verdict))
    except PetitionMoveRefused as refused:
        return _problem(request, str(refused), status_code=409, token=code.token)
    return Response(status_code=303, headers={"Location": f"/m/{token}/case/{petition.number}?ok={_ANSWERED}"})


def _form_page(
    request: Request,
    console: Services,
    code: DoorCode,
    cookie: str,
    text: str = "",
    phone: str = "",
    error: str = "",
    status_code: int = 200,
) -> Response:
    limits = console.door_codes.limits
    return page(
        request,
        "phone_form.html",
        None,
        status_code=status_code,
        code=code,
        form_token=form_token(cookie),
        form_id=secrets.token_urlsafe(12),
        text=text,
        phone=phone,
        error=error,
        text_chars=limits.text_chars,
        photo_mb=f"{console.photos.max_bytes / (1024 * 1024):g}",
        mine=console.door_codes.mine(device_id(cookie)),
    )


def _problem(request: Request, message: str, *, status_code: int = 404, token: str = "") -> Response:
    return page(request, "phone_problem.html", None, status_code=status_code, message=message, token=token)
