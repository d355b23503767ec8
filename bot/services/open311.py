"""Open311 GeoReport v2 over petitions (诉求): outside systems — a city platform, the 12345 hotline — list the
categories as services, pull cases and their moves as service requests and updates, and post new cases with an API
key staff issue in the console. Cases are filed through the petition desk like any other; this maps them."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.domain.errors import AssistantError
from bot.domain.messages import bounded_id, one_line
from bot.domain.open311 import (
    POSTED_STATUSES,
    ApiKey,
    DateNotUnderstood,
    ExternalUpdate,
    Open311Error,
    UpdateAlreadyRecorded,
    basic_status,
    extended_status,
    parse_w3c,
    service_code,
    service_keywords,
    statuses_named,
    update_event,
    w3c,
)
from bot.domain.petitions import (
    OPEN311_CHANNEL,
    BoardFilter,
    Petition,
    PetitionCategory,
    PetitionEvent,
    PetitionMoveRefused,
    PetitionStatus,
    Recognition,
    RecognitionKind,
    Reporter,
)
from bot.domain.photos import CasePhoto
from bot.domain.privacy import mask_personal_data
from bot.domain.staff import Actor
from bot.handlers.ratelimit import SlidingWindowLimiter
from bot.ports import ApiKeyStore, Clock, GroupDirectory
from bot.services.audit import StaffAudit
from bot.services.petitions import LOCATION_CHARS, PetitionDesk, case_community, masked_text
from bot.services.photos import PhotoAlbum

# One GeoReport document: field → a string, number, flag, None, or a list of strings or of documents.
Document = dict[str, object]

# The spec: a request listing spans at most 90 days and returns at most 1,000 records by default.
WINDOW = timedelta(days=90)
# How long a media_url (a signed link to a case's photo) works.
MEDIA_TTL = timedelta(minutes=10)
MAX_RECORDS = 1000
DESCRIPTION_LIMIT = 4000
SERVICE_GROUP = "居民诉求"
_HTML = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>")
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_KEY_NAME_CHARS = 64
_UPDATE_ID_CHARS = 128


class ApiKeyNameRequiredError(AssistantError):
    """A key must be named for the system that will use it."""


class ApiKeyNotFoundError(AssistantError):
    """No key has that number."""


class Open311Keys:
    """API keys: issued (the key shown once, only its hash kept), listed, revoked, each audited; checked on every
    post, with a per-key limit of posts a minute (counted in this process's memory)."""

    def __init__(self, store: ApiKeyStore, audit: StaffAudit, clock: Clock, *, posts_per_minute: int) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._limiter = SlidingWindowLimiter(posts_per_minute, timedelta(minutes=1))
        self._lock = threading.Lock()

    def issue(self, actor: Actor, *, name: str, community: str = "") -> tuple[ApiKey, str]:
        """A new key for the system named (limited to community if given): the key and the secret, shown once."""
        name = one_line(name, limit=_KEY_NAME_CHARS)
        if not name:
            raise ApiKeyNameRequiredError("请填写使用这个密钥的系统名称，比如“市12345平台”")
        secret = secrets.token_urlsafe(32)
        key = self._store.create(
            name=name,
            key_hash=key_hash(secret),
            community=one_line(community, limit=128),
            created_by=actor.audit_name,
            now=self._clock.now(),
        )
        scope = f"，限{key.community}" if key.community else ""
        self._audit.record_as(actor, "api_key_issued", target=f"密钥 {key.id}", detail=f"{name}{scope}")
        return key, secret

    def keys(self) -> list[ApiKey]:
        """Every key ever issued, newest first."""
        return self._store.all()

    def revoke(self, actor: Actor, key_id: int) -> ApiKey:
        """Revoke a key at once; its posts are refused from then on."""
        key = self._store.revoke(key_id, now=self._clock.now())
        if key is None:
            raise ApiKeyNotFoundError(f"没有编号为 {key_id} 的密钥")
        self._audit.record_as(actor, "api_key_revoked", target=f"密钥 {key.id}", detail=key.name)
        return key

    def reader(self, secret: str) -> ApiKey | None:
        """The key a read presents, if any (None when none is given): reads need no key, but one unlocks the
        photos' short-lived links; 403 for a wrong or revoked key. Reads are not rate-limited like posts."""
        if not secret.strip():
            return None
        key = self._store.find(key_hash(secret.strip()))
        if key is None:
            raise Open311Error(403, "api_key 无效或已停用")
        return key

    def active(self, key_id: int) -> bool:
        """Whether the key numbered key_id is issued and not revoked."""
        return any(k.id == key_id and k.active for k in self._store.all())

    def authenticate(self, secret: str) -> ApiKey:
        """The unrevoked key secret is, its use noted; 403 for a missing or wrong key, 429 past its rate."""
        key = self._store.find(key_hash(secret.strip())) if secret.strip() else None
        if key is None:
            raise Open311Error(403, "api_key 缺失、无效或已停用")
        now = self._clock.now()
        with self._lock:
            allowed = self._limiter.allow(str(key.id), now)
        if not allowed:
            raise Open311Error(429, "提交过于频繁，请稍后再试")
        self._store.used(key.id, now=now)
        return key


def key_hash(secret: str) -> str:
    """What is stored of a key: its SHA-256."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class GeoReport:
    """The GeoReport v2 resources over the petition desk: services, service definitions, requests (listed, one,
    posted), tokens and mySociety's service request updates. jurisdiction_id is a community's name."""

    def __init__(
        self,
        petitions: PetitionDesk,
        keys: Open311Keys,
        groups: GroupDirectory,
        categories: Sequence[PetitionCategory],
        clock: Clock,
        *,
        default_community: str,
        utc_offset: timedelta,
        private_categories: Sequence[str] = (),
        photos: PhotoAlbum | None = None,
        public_url: str = "",
    ) -> None:
        """photos and public_url give a request's media_url: a link to its first photo, signed for MEDIA_TTL and only
        for a client that reads with a valid API key of the case's community (none without photos)."""
        self._photos = photos
        self._public_url = public_url.rstrip("/")
        # Links are signed with a secret of this process: they die with it, and within MEDIA_TTL anyway
        self._media_secret = secrets.token_bytes(32)
        self._petitions = petitions
        self._keys = keys
        self._groups = groups
        self._categories = tuple(categories)
        self._by_code = {service_code(c): c for c in self._categories}
        self._codes = {c.name: code for code, c in self._by_code.items()}
        self._clock = clock
        self._default_community = default_community
        self._offset = utc_offset
        self._private = frozenset(private_categories)

    def community(self, jurisdiction_id: str) -> str | None:
        """The community a jurisdiction_id names (None when none is given); 404 for one nobody serves."""
        wanted = jurisdiction_id.strip()
        if not wanted:
            return None
        known = {g.community for g in self._groups.all() if g.community}
        if self._default_community:
            known.add(self._default_community)
        if wanted not in known:
            raise Open311Error(404, f"没有这个 jurisdiction_id（社区）：{one_line(wanted, limit=64)}")
        return wanted

    def services(self) -> list[Document]:
        """Every petition category as a service, in the category file's order."""
        return [
            {
                "service_code": service_code(c),
                "service_name": c.name,
                "description": c.description,
                "metadata": False,
                "type": "realtime",
                "keywords": ",".join(service_keywords(c)),
                "group": SERVICE_GROUP,
            }
            for c in self._categories
        ]

    def definition(self, code: str) -> Document:
        """A service's definition: no extra attributes are asked (the description and the place say it all)."""
        if code not in self._by_code:
            raise Open311Error(404, f"没有这个 service_code：{one_line(code, limit=64)}")
        return {"service_code": code, "attributes": []}

    def requests(self, query: Mapping[str, str], community: str | None) -> list[Document]:
        """The requests a GET /requests asks for: by service_request_id (a comma list, overriding the rest), else by
        service_code, status (open, closed or an extended status; a comma list), start_date and end_date (at most
        90 days apart; the last 90 days by default), page and page_size (at most 1,000, the default); newest first."""
        shown = BoardFilter(community=community)
        reader = self._keys.reader(query.get("api_key", ""))
        page, size = _page(query)
        ids = _list(query.get("service_request_id", ""))
        if ids:
            cases = self._petitions.matching(shown, numbers=ids[:MAX_RECORDS], limit=MAX_RECORDS)
            return [self._request(p, reader) for p in cases]
        code = query.get("service_code", "").strip()
        if code:
            category = self._by_code.get(code)
            if category is None:
                raise Open311Error(400, f"没有这个 service_code：{one_line(code, limit=64)}")
            shown = replace(shown, category=category.name)
        statuses: set[PetitionStatus] = set()
        for name in _list(query.get("status", "")):
            named = statuses_named(name)
            if not named:
                raise Open311Error(400, f"status 只能是 open、closed 或扩展状态，不能是：{one_line(name, limit=32)}")
            statuses |= named
        start, end = self._window(query)
        cases = self._petitions.matching(
            shown,
            statuses=statuses,
            created_from=start,
            created_until=end,
            offset=(page - 1) * size,
            limit=size,
        )
        return [self._request(p, reader) for p in cases]

    def request(self, request_id: str, community: str | None, *, api_key: str = "") -> list[Document]:
        """One request by its id (the case number), as a list of one; 404 when there is none (in this community).
        With a valid api_key its media_url is a short-lived link to its first photo."""
        reader = self._keys.reader(api_key)
        found = self._petitions.case(request_id.strip())
        if found is None or not self._in(found, community):
            raise Open311Error(404, f"没有这个 service_request_id：{one_line(request_id, limit=32)}")
        return [self._request(found, reader)]

    def media(self, number: str, photo_id: int, *, key_id: int, expires: int, signature: str) -> CasePhoto:
        """The photo a signed media_url links to; 403 for a link that is forged, expired or whose key was revoked
        since, 404 for a photo that is gone."""
        expected = self._signature(key_id, number, photo_id, expires)
        if not hmac.compare_digest(expected, signature) or expires < self._clock.now().timestamp():
            raise Open311Error(403, "链接无效或已过期，请重新读取这个请求")
        if not self._keys.active(key_id):
            raise Open311Error(403, "这个链接的 api_key 已停用")
        found = self._petitions.case(number)
        kept = self._photos.find(found, photo_id) if found is not None and self._photos is not None else None
        if kept is None:
            raise Open311Error(404, "没有这张照片")
        return kept

    def photo_content(self, photo: CasePhoto) -> bytes:
        """The stored JPEG of a photo a media link names."""
        assert self._photos is not None  # media() found the photo through the album
        return self._photos.content(photo)

    def token(self, token: str, community: str | None) -> list[Document]:
        """The request a token stands for (a post is filed at once, so every token we issued has one)."""
        found = self._petitions.by_origin(_origin(token)) if _TOKEN.match(token) else None
        if found is None or not self._in(found, community):
            raise Open311Error(404, f"没有这个 token：{one_line(token, limit=40)}")
        return [{"service_request_id": found.number, "token": token}]

    def submit(self, form: Mapping[str, str], community: str | None) -> list[Document]:
        """POST /requests: checks the key, the service, the place and the description, then files the case through
        the petition desk at once (no staff notice differs from a resident's case). Names are kept only as the case's
        reporter (shown masked); phone and e-mail are not stored."""
        key = self._keys.authenticate(form.get("api_key", ""))
        if community is None:
            community = key.community or self._default_community
        if not key.serves(community):
            raise Open311Error(403, f"这个 api_key 只能提交到{key.community}")
        code = form.get("service_code", "").strip()
        if not code:
            raise Open311Error(400, "缺少 service_code")
        category = self._by_code.get(code)
        if category is None:
            raise Open311Error(400, f"没有这个 service_code：{one_line(code, limit=64)}")
        location = _location(form)
        description = _description(form)
        token = uuid.uuid4().hex
        account = form.get("account_id", "").strip() or form.get("device_id", "").strip()
        name = one_line(f"{form.get('last_name', '').strip()}{form.get('first_name', '').strip()}", limit=64)
        reporter = Reporter(
            channel=OPEN311_CHANNEL,
            group_id="",
            group_name=key.name,
            user_id=bounded_id(mask_personal_data(f"{key.id}:{account}" if account else f"{key.id}")),
            display_name=mask_personal_data(name),
        )
        said = Recognition(RecognitionKind.EXPLICIT, category.name, 1.0, description or category.name)
        draft = self._petitions.draft(said, reporter, origin=_origin(token))
        draft = replace(
            draft,
            location=masked_text(one_line(location, limit=LOCATION_CHARS * 2), LOCATION_CHARS),
            community=community,
            category_chosen=True,  # the outside system's service_code stands
        )
        filed = self._petitions.file(draft).petition
        if filed is None:  # a fresh origin always makes its case
            raise Open311Error(500, "诉求没能登记，请稍后再试")
        return [
            {
                "service_request_id": filed.number,
                "token": token,
                "service_notice": "",
                "account_id": mask_personal_data(account) if account else None,
            }
        ]

    def updates(self, query: Mapping[str, str], community: str | None) -> list[Document]:
        """mySociety's GET /servicerequestupdates: every recorded move after start_date (up to end_date; the last 90
        days by default), oldest first, at most page_size (1,000): poll again from the last updated_datetime."""
        start, end = self._window(query)
        _, size = _page(query)
        moves = self._petitions.moves_since(BoardFilter(community=community), since=start, until=end, limit=size)
        documents: list[Document] = []
        for recorded in moves:
            status = PetitionStatus(recorded.move.to_status)
            documents.append(
                {
                    "update_id": str(recorded.move.id),
                    "service_request_id": recorded.petition.number,
                    "status": extended_status(status),
                    "updated_datetime": w3c(recorded.move.at, self._offset),
                    "description": mask_personal_data(recorded.move.note) or status.label,
                    "media_url": None,
                }
            )
        return documents

    def post_update(self, form: Mapping[str, str], community: str | None) -> list[Document]:
        """mySociety's POST /servicerequestupdates: an outside system's update to one of our requests, with its key.
        A new status is recorded as the workflow move it stands for (who: the key's name; the description as the
        note, told to the resident as any move is); the same status (or open on an open case, closed on a closed
        one) as a note on the history. A move the workflow does not allow is refused (400); the same update_id
        posted again by the same key records nothing more and answers as the first time."""
        key = self._keys.authenticate(form.get("api_key", ""))
        missing = [f for f in ("service_request_id", "update_id", "status", "updated_datetime") if not form.get(f)]
        if missing:
            raise Open311Error(400, f"缺少 {', '.join(missing)}")
        update_id = form["update_id"].strip()
        if len(update_id) > _UPDATE_ID_CHARS or not update_id.isprintable():
            raise Open311Error(400, f"update_id 最多 {_UPDATE_ID_CHARS} 个可见字符")
        self._date(form, "updated_datetime")  # checked: a client's malformed date is its error to see
        petition = self._petitions.case(form["service_request_id"].strip())
        if petition is None or not self._in(petition, community):
            raise Open311Error(404, f"没有这个 service_request_id：{one_line(form['service_request_id'], limit=32)}")
        if not key.serves(case_community(petition, self._groups)):
            raise Open311Error(403, f"这个 api_key 只能更新{key.community}的诉求")
        external = ExternalUpdate(key.id, update_id)
        recorded = self._petitions.recorded_update(external)
        if recorded is not None:
            return [{"update_id": str(recorded)}]
        status_name = form["status"].strip().lower()
        wanted = POSTED_STATUSES.get(status_name)
        if wanted is None:
            raise Open311Error(400, f"status 不是 mySociety 的扩展状态之一：{one_line(status_name, limit=32)}")
        description = _description(form)
        event = update_event(petition.status, wanted) if wanted is not None else None
        if event is None and basic_status(petition.status) == status_name:
            event = PetitionEvent.NOTE  # "open" on a case being worked on, "closed" on a settled one: nothing moves
        if event is None:
            raise Open311Error(
                400,
                f"诉求 {petition.number} 现在是“{petition.status.label}”（{extended_status(petition.status)}），"
                f"不能改为 {status_name}",
            )
        if event is PetitionEvent.NOTE and not description:
            raise Open311Error(400, "状态没有变化时 description 不能为空")
        actor = Actor.outside_system(key.name)
        department = one_line(form.get("agency_responsible", ""), limit=64) or key.name
        try:
            self._petitions.move(
                petition.number,
                event,
                actor=actor,
                note=mask_personal_data(description),
                department=department if event is PetitionEvent.DISPATCH else "",
                external=external,
            )
        except UpdateAlreadyRecorded:
            pass  # the same update posted twice at once: the first one's move stands
        except PetitionMoveRefused as refused:  # moved by someone else meanwhile
            raise Open311Error(400, str(refused)) from None
        except AssistantError as refused:  # a rejection without its reason, an unknown case
            raise Open311Error(400, str(refused)) from None
        recorded = self._petitions.recorded_update(external)
        if recorded is None:
            raise Open311Error(500, "更新没能记录，请稍后再试")
        return [{"update_id": str(recorded)}]

    def _media_url(self, petition: Petition, reader: ApiKey | None) -> str | None:
        """A link to the case's first photo, signed for MEDIA_TTL, for a reader whose key serves the case's
        community; None otherwise (photos are personal data: no key, no link)."""
        if reader is None or self._photos is None or not reader.serves(case_community(petition, self._groups)):
            return None
        photos = self._photos.of_case(petition)
        if not photos:
            return None
        first = photos[0].id
        expires = int((self._clock.now() + MEDIA_TTL).timestamp())
        signature = self._signature(reader.id, petition.number, first, expires)
        return (
            f"{self._public_url}/open311/v2/media/{petition.number}/{first}.jpg"
            f"?key_id={reader.id}&expires={expires}&signature={signature}"
        )

    def _signature(self, key_id: int, number: str, photo_id: int, expires: int) -> str:
        said = f"{key_id}|{number}|{photo_id}|{expires}".encode()
        return hmac.new(self._media_secret, said, hashlib.sha256).hexdigest()

    def _request(self, petition: Petition, reader: ApiKey | None = None) -> Document:
        """One case as a service request; a private category's words, place and photos are not published."""
        withheld = petition.category in self._private
        return {
            "service_request_id": petition.number,
            "status": basic_status(petition.status).value,
            "extended_status": extended_status(petition.status),
            "status_notes": mask_personal_data(petition.note) or petition.status.label,
            "service_name": petition.category,
            "service_code": self._code_of(petition.category),
            "description": "（内容不公开）" if withheld else petition.description,
            "agency_responsible": petition.department or None,
            "service_notice": None,
            "requested_datetime": w3c(petition.created_at, self._offset),
            "updated_datetime": w3c(petition.updated_at, self._offset),
            "expected_datetime": w3c(petition.due_at, self._offset) if petition.due_at else None,
            "address": None if withheld else petition.location or None,
            "address_id": None,
            "zipcode": None,
            "lat": None,
            "long": None,
            "media_url": None if withheld else self._media_url(petition, reader),
        }

    def _code_of(self, category: str) -> str:
        """A case's service_code: its category's, or one derived from a name no longer in the file."""
        return self._codes.get(category) or service_code(PetitionCategory(category, ""))

    def _in(self, petition: Petition, community: str | None) -> bool:
        """Whether the case belongs to community (any, when None)."""
        if community is None:
            return True
        return case_community(petition, self._groups) == community

    def _window(self, query: Mapping[str, str]) -> tuple[datetime, datetime]:
        """start_date and end_date, defaulting to a 90-day span ending now; 400 for a bad date or a longer span."""
        start, end = self._date(query, "start_date"), self._date(query, "end_date")
        if start is None and end is None:
            end = self._clock.now()
        if start is None:
            assert end is not None
            start = end - WINDOW
        if end is None:
            end = start + WINDOW
        if end < start:
            raise Open311Error(400, "end_date 不能早于 start_date")
        if end - start > WINDOW:
            raise Open311Error(400, "start_date 与 end_date 最多相隔 90 天")
        return start, end

    def _date(self, query: Mapping[str, str], field: str) -> datetime | None:
        text = query.get(field, "").strip()
        if not text:
            return None
        try:
            return parse_w3c(text, self._offset)
        except DateNotUnderstood:
            raise Open311Error(400, f"{field} 应为 W3C 时间，比如 2026-11-01T00:00:00+08:00") from None


def _description(form: Mapping[str, str]) -> str:
    """A posted description: at most 4000 characters, no HTML; 400 otherwise."""
    description = form.get("description", "").strip()
    if len(description) > DESCRIPTION_LIMIT:
        raise Open311Error(400, f"description 最多 {DESCRIPTION_LIMIT} 字")
    if _HTML.search(description):
        raise Open311Error(400, "description 不能包含 HTML")
    return description


def _origin(token: str) -> str:
    """The origin of the case a post made: its token, marked as Open311's."""
    return f"{OPEN311_CHANNEL}:{token}"


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _page(query: Mapping[str, str]) -> tuple[int, int]:
    """page (from 1) and page_size (1 to 1,000; 1,000 by default); 400 for anything else."""
    try:
        page = int(query.get("page", "1") or "1")
        size = int(query.get("page_size", str(MAX_RECORDS)) or str(MAX_RECORDS))
    except ValueError:
        raise Open311Error(400, "page 和 page_size 应为正整数") from None
    if page < 1 or not 1 <= size <= MAX_RECORDS:
        raise Open311Error(400, f"page 应从 1 开始，page_size 应在 1 到 {MAX_RECORDS} 之间")
    return page, size


def _location(form: Mapping[str, str]) -> str:
    """Where the matter is: address_string, else the coordinates, else address_id; 400 when none is given."""
    address = form.get("address_string", "").strip()
    lat, long = form.get("lat", "").strip(), form.get("long", "").strip()
    if lat or long:
        try:
            latitude, longitude = float(lat), float(long)
        except ValueError:
            raise Open311Error(400, "lat 和 long 应同时给出，且为数字") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise Open311Error(400, "lat 或 long 超出范围")
        if not address:
            address = f"{latitude:.6f},{longitude:.6f}"
    address = address or form.get("address_id", "").strip()
    if not address:
        raise Open311Error(400, "缺少位置：请给出 address_string，或 lat 和 long，或 address_id")
    return address
