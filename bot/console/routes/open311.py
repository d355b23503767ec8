"""Open311 GeoReport v2 under /open311/v2/ (JSON and XML, errors as the spec's list), and the console page where
admins issue and revoke the API keys outside systems post with."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.console.web import Services, StaffSession, acting, allowed, page, redirect
from bot.domain.errors import AssistantError
from bot.domain.open311 import STATUS_MAP, Open311Error
from bot.domain.petitions import PetitionStatus
from bot.domain.staff import Actor, Permission
from bot.services.open311 import Document

# The console's area (admins' key page, behind a session like every page) and the API itself (no session: reads are
# public as the spec has them, posts carry an API key).
router = APIRouter()
PREFIX = "/open311/v2"
api = APIRouter(prefix=PREFIX)
# When this API last changed, as the discovery document tells clients.
API_CHANGESET = "2026-11-28T00:00:00+08:00"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
_MEDIA = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# The element each list's items get in XML.
_ITEMS = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}

KeyAdmin = Annotated[StaffSession, allowed(Permission.MANAGE_API_KEYS)]
ManagingKeys = Annotated[StaffSession, acting(Permission.MANAGE_API_KEYS)]


# ---------------------------------------------------------------- rendering


def render(fmt: str, body: Document | list[Document], *, root: str, item: str = "", status: int = 200) -> Response:
    """A document (or a list of them) as JSON or XML: the list as root's children named item."""
    if fmt == "json":
        text = json.dumps(body, ensure_ascii=False)
        return Response(text, status_code=status, media_type=_MEDIA["json"])
    element = ET.Element(root)
    if isinstance(body, list):
        for document in body:
            _fill(ET.SubElement(element, item), document)
    else:
        _fill(element, body)
    text = ET.tostring(element, encoding="unicode", xml_declaration=False)
    return Response(f'<?xml version="1.0" encoding="utf-8"?>\n{text}', status_code=status, media_type=_MEDIA["xml"])


def _fill(element: ET.Element, document: Document) -> None:
    for field, value in document.items():
        child = ET.SubElement(element, field)
        if isinstance(value, list):
            for entry in value:
                grandchild = ET.SubElement(child, _ITEMS.get(field, "item"))
                if isinstance(entry, dict):
                    _fill(grandchild, entry)
                else:
                    grandchild.text = _text(entry)
        else:
            child.text = _text(value)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def error(fmt: str, status: int, description: str) -> Response:
    """The spec's error list, in fmt (XML for an unknown format)."""
    shown = fmt if fmt in _MEDIA else "xml"
    return render(shown, [{"code": status, "description": description}], root="errors", item="error", status=status)


def _answer(fmt: str, make: Callable[[], Response]) -> Response:
    """make's response, or the spec's error list for an Open311Error (or an unknown format)."""
    if fmt not in _MEDIA:
        return error("xml", 404, f"不支持的格式：{fmt[:16]}，请用 json 或 xml")
    try:
        return make()
    except Open311Error as refused:
        return error(fmt, refused.status, refused.description)


async def _posted(request: Request, fmt: str, make: Callable[[dict[str, str]], Response]) -> Response:
    """A POST's form fields (each bounded) handed to make in a worker thread, answered as _answer does."""
    if fmt not in _MEDIA:
        return error("xml", 404, f"不支持的格式：{fmt[:16]}，请用 json 或 xml")
    form = await request.form()
    fields = {name: value[:8000] for name, value in form.items() if isinstance(value, str)}
    return await run_in_threadpool(_answer, fmt, lambda: make(fields))


def _query(request: Request) -> dict[str, str]:
    return {name: value[:2000] for name, value in request.query_params.items()}


# ---------------------------------------------------------------- GeoReport v2


@api.get("/discovery.{fmt}")
def discovery(request: Request, fmt: str) -> Response:
    """Where the API is, what it speaks and how to get a key."""
    url = str(request.base_url).rstrip("/") + PREFIX + "/"
    document: Document = {
        "changeset": API_CHANGESET,
        "contact": "请联系所在社区的社区工作人员",
        "key_service": "接口密钥由社区控制台的管理员发放（控制台 → 接口密钥）",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": API_CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return _answer(fmt, lambda: render(fmt, document, root="discovery"))


@api.get("/services.{fmt}")
def services(request: Request, console: Services, fmt: str) -> Response:
    """The petition categories as services."""

    def make() -> Response:
        console.open311.community(request.query_params.get("jurisdiction_id", ""))
        return render(fmt, console.open311.services(), root="services", item="service")

    return _answer(fmt, make)


@api.get("/services/{code}.{fmt}")
def service_definition(request: Request, console: Services, code: str, fmt: str) -> Response:
    """One service's definition."""

    def make() -> Response:
        console.open311.community(request.query_params.get("jurisdiction_id", ""))
        return render(fmt, console.open311.definition(code), root="service_definition")

    return _answer(fmt, make)


@api.get("/requests.{fmt}")
def requests(request: Request, console: Services, fmt: str) -> Response:
    """Service requests by the spec's filters."""

    def make() -> Response:
        query = _query(request)
        found = console.open311.requests(query, console.open311.community(query.get("jurisdiction_id", "")))
        return render(fmt, found, root="service_requests", item="request")

    return _answer(fmt, make)


@api.post("/requests.{fmt}")
async def post_request(request: Request, console: Services, fmt: str) -> Response:
    """A new service request (form-urlencoded, with an api_key), filed at once as a case."""

    def make(fields: dict[str, str]) -> Response:
        community = console.open311.community(fields.get("jurisdiction_id", ""))
        filed = console.open311.submit(fields, community)
        return render(fmt, filed, root="service_requests", item="request")

    return await _posted(request, fmt, make)


@api.get("/requests/{request_id}.{fmt}")
def one_request(request: Request, console: Services, request_id: str, fmt: str) -> Response:
    """One service request by its id (the case number)."""

    def make() -> Response:
        query = _query(request)
        community = console.open311.community(query.get("jurisdiction_id", ""))
        found = console.open311.request(request_id, community, api_key=query.get("api_key", ""))
        return render(fmt, found, root="service_requests", item="request")

    return _answer(fmt, make)


@api.get("/tokens/{token}.{fmt}")
def token(request: Request, console: Services, token: str, fmt: str) -> Response:
    """The service request a token stands for."""

    def make() -> Response:
        community = console.open311.community(request.query_params.get("jurisdiction_id", ""))
        return render(fmt, console.open311.token(token, community), root="service_requests", item="request")

    return _answer(fmt, make)


@api.get("/servicerequestupdates.{fmt}")
def updates(request: Request, console: Services, fmt: str) -> Response:
    """mySociety's updates: every move of the cases since a time."""

    def make() -> Response:
        query = _query(request)
        found = console.open311.updates(query, console.open311.community(query.get("jurisdiction_id", "")))
        return render(fmt, found, root="service_request_updates", item="request_update")

    return _answer(fmt, make)


@api.post("/servicerequestupdates.{fmt}")
async def post_update(request: Request, console: Services, fmt: str) -> Response:
    """mySociety's update to one of our requests (form-urlencoded, with an api_key): recorded as its move."""

    def make(fields: dict[str, str]) -> Response:
        community = console.open311.community(fields.get("jurisdiction_id", ""))
        recorded = console.open311.post_update(fields, community)
        return render(fmt, recorded, root="service_request_updates", item="request_update")

    return await _posted(request, fmt, make)


@api.get("/media/{number}/{photo_id}.jpg")
def media(
    console: Services, number: str, photo_id: str, key_id: str = "", expires: str = "", signature: str = ""
) -> Response:
    """A case's photo behind a media_url: a link signed for a reader with an API key, working for a few minutes;
    never cached by the client. Errors as the spec's XML list (a mangled link is one that does not verify)."""

    def make() -> Response:
        if not (photo_id.isdigit() and key_id.isdigit() and expires.isdigit()):
            raise Open311Error(403, "链接无效或已过期，请重新读取这个请求")
        kept = console.open311.media(
            number[:32],
            int(photo_id[:18]),
            key_id=int(key_id[:18]),
            expires=int(expires[:18]),
            signature=signature[:128],
        )
        headers = {"Cache-Control": "no-store"}
        return Response(console.open311.photo_content(kept), media_type=kept.photo.content_type, headers=headers)

    return _answer("xml", make)


def is_open311(request: Request) -> bool:
    """Whether a request is for the Open311 API (its errors are the spec's lists, not pages)."""
    return request.url.path.startswith("/open311/")


def api_error(request: Request, status: int, description: str) -> Response:
    """An error for an Open311 path in the format its extension asks for (XML by default)."""
    fmt = "json" if request.url.path.endswith(".json") else "xml"
    return error(fmt, status, description)


# ---------------------------------------------------------------- keys (admins)


@router.get("/api-keys", response_class=HTMLResponse)
def keys(request: Request, console: Services, session: KeyAdmin) -> Response:
    """Every key issued, and the form for a new one."""
    return _keys_page(request, console, session)


@router.post("/api-keys", response_class=HTMLResponse)
def issue_key(
    request: Request,
    console: Services,
    session: ManagingKeys,
    name: Annotated[str, Form(max_length=200)] = "",
    community: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """A new key, shown once on the page that answers this form (only its hash is kept)."""
    try:
        issued, secret = console.api_keys.issue(_actor(session), name=name, community=community)
    except AssistantError as refused:
        return _keys_page(request, console, session, error=str(refused), status_code=400)
    return _keys_page(request, console, session, issued=issued.name, secret=secret)


@router.post("/api-keys/{key_id}/revoke", response_class=HTMLResponse)
def revoke_key(request: Request, console: Services, session: ManagingKeys, key_id: int) -> Response:
    """Revoke a key at once."""
    try:
        console.api_keys.revoke(_actor(session), key_id)
    except AssistantError as refused:
        return _keys_page(request, console, session, error=str(refused), status_code=404)
    return redirect("/api-keys", notice="api_key_revoked")


def _actor(session: StaffSession) -> Actor:
    return Actor.console(session.user, ip=session.ip)


def _keys_page(
    request: Request,
    console: Services,
    session: StaffSession,
    *,
    issued: str = "",
    secret: str = "",
    error: str = "",
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "api_keys.html",
        session,
        status_code=status_code,
        keys=console.api_keys.keys(),
        issued=issued,
        secret=secret,
        error=error,
        statuses=_status_rows(STATUS_MAP),
    )


def _status_rows(mapping: Mapping[PetitionStatus, tuple[object, str]]) -> list[tuple[str, str, str]]:
    return [(status.label, str(basic), extended) for status, (basic, extended) in mapping.items()]
