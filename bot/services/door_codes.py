"""门牌码 (door codes): staff make a QR code per building or unit and print them; a resident who scans one files a
petition on a phone page without signing in (the place filled in, a photo if they like) through the same petition
desk as chat, and follows it there by number. The page is guarded without outside services: per-device, per-address
and per-code limits counted in the database, a length limit and the sensitive-word list."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace

import segno

from bot.domain.door_codes import (
    DoorCode,
    DoorCodeNotFoundError,
    LimitHit,
    PlaceListError,
    SubmissionLimits,
    SubmissionRefusedError,
    expand_places,
)
from bot.domain.errors import AssistantError
from bot.domain.messages import one_line, plain_text
from bot.domain.petitions import PAGE_CHANNEL, Petition, Rating, Recognition, RecognitionKind, Reporter
from bot.domain.photos import PhotoSource
from bot.domain.staff import Actor
from bot.domain.workflow import Transition
from bot.ports import Clock, DoorCodeStore
from bot.services.audit import StaffAudit
from bot.services.petitions import PetitionDesk, Verdict
from bot.services.photos import PhotoAlbum
from bot.services.safety import SensitiveWords

log = logging.getLogger(__name__)
# What the page's resident is called on the case (their phone stays anonymous).
PAGE_RESIDENT = "扫码居民"
# Where lists say the case came from (it has no group).
PAGE_GROUP_NAME = "门牌码"
_PHONE = re.compile(r"^\+?[\d\s\-()]{7,24}$")


@dataclass(frozen=True, slots=True)
class PageSubmission:
    """What a resident sent from the phone page: the problem, a contact phone (may be empty), a photo (may be None),
    and the form's own id (a resubmitted form files nothing new)."""

    text: str
    phone: str = ""
    photo: bytes | None = None
    form_id: str = ""


@dataclass(frozen=True, slots=True)
class PageFiling:
    """A case filed from the page, and why its photo was not kept (empty when it was, or none was sent)."""

    petition: Petition
    photo_problem: str = ""


def device_id(cookie: str) -> str:
    """The reporter id of a phone: a hash of its device cookie (the cookie itself is never stored)."""
    return "qr-" + hashlib.sha256(cookie.encode()).hexdigest()[:40]


def address_id(ip: str) -> str:
    """An address as the rate limits keep it (hashed: an IP address is personal data)."""
    return hashlib.sha256(f"addr:{ip}".encode()).hexdigest()[:40]


class DoorCodeDesk:
    """Makes, lists and switches off 门牌码; files and follows the petitions of their phone page."""

    def __init__(
        self,
        store: DoorCodeStore,
        petitions: PetitionDesk,
        photos: PhotoAlbum,
        clock: Clock,
        *,
        audit: StaffAudit,
        categorise: Callable[[str], str],
        sensitive: SensitiveWords,
        limits: SubmissionLimits,
        public_url: str,
    ) -> None:
        self._store = store
        self._petitions = petitions
        self._photos = photos
        self._clock = clock
        self._audit = audit
        self._categorise = categorise
        self._sensitive = sensitive
        self._limits = limits
        self._public_url = public_url.rstrip("/")

    @property
    def limits(self) -> SubmissionLimits:
        """The page's limits."""
        return self._limits

    def create(self, actor: Actor, *, community: str, places: str, units: int = 0) -> list[DoorCode]:
        """New codes for the places a request names ("1-12号楼", "3号楼，5号楼"; per unit when units > 0), each with
        an unguessable token; audited once."""
        community = one_line(community, limit=128)
        if not community:
            raise PlaceListError("请选择门牌码所属的社区")
        names = expand_places(places, units)
        made = self._store.create(
            [(secrets.token_urlsafe(16), name) for name in names],
            community=community,
            created_by=actor.name,
            now=self._clock.now(),
        )
        shown = "、".join(names[:3]) + ("等" if len(names) > 3 else "")
        self._audit.record_as(actor, "door_codes_created", target=community, detail=f"{len(made)} 个：{shown}")
        return made

    def listed(self, *, community: str | None, active_only: bool = False) -> list[DoorCode]:
        """The codes of one community (every community's for None), in the order they were made."""
        return self._store.listed(community=community, active_only=active_only)

    def get(self, code_id: int) -> DoorCode | None:
        """One code by id."""
        return self._store.get(code_id)

    def deactivate(self, actor: Actor, code: DoorCode) -> bool:
        """Switch a code off (its page then says so); audited; False if it was off already."""
        done = self._store.deactivate(code.id)
        if done:
            self._audit.record_as(actor, "door_code_deactivated", target=code.community, detail=code.place)
        return done

    def link(self, code: DoorCode) -> str:
        """The address its QR code opens."""
        return f"{self._public_url}/m/{code.token}"

    def qr_svg(self, code: DoorCode) -> str:
        """The code's QR image as inline SVG (error correction M, quiet zone kept), for the printed sheet."""
        qr = segno.make(self.link(code), error="m", micro=False)
        return str(qr.svg_inline(scale=4, border=4, omitsize=True, title=code.place))

    def open(self, token: str, *, filing: bool = True) -> DoorCode:
        """The code behind a scanned link; DoorCodeNotFoundError when there is none, or, for filing, when it was
        switched off (the cases filed from it can still be followed)."""
        code = self._store.by_token(token[:64]) if token else None
        if code is None or (filing and not code.active):
            raise DoorCodeNotFoundError("这个门牌码已停用或不存在，请联系社区工作人员。")
        return code

    def submit(self, code: DoorCode, sent: PageSubmission, *, device: str, address: str) -> PageFiling:
        """File the resident's petition through the petition desk, the place set from the code and the category
        recognised from the text; SubmissionRefusedError (or PhotoRefusedError) with the reason when it is not
        filed. Everything is checked before the case is filed, so a refusal files nothing."""
        text = plain_text(unicodedata.normalize("NFC", sent.text), limit=self._limits.text_chars * 2).strip()
        if not text:
            raise SubmissionRefusedError("请先写一写要反映的问题。")
        if len(text) > self._limits.text_chars:
            raise SubmissionRefusedError(f"内容太长了（最多 {self._limits.text_chars} 字），请精简一些再提交。")
        phone = " ".join(sent.phone.split())
        if phone and (not _PHONE.match(phone) or sum(c.isdigit() for c in phone) < 7):
            raise SubmissionRefusedError("联系电话的格式不对，请只填数字（可以不填）。")
        if self._sensitive.find(text):
            raise SubmissionRefusedError(
                "您写的内容里有不适宜的词语，无法登记。请修改后再提交，或直接联系社区工作人员。"
            )
        checked = self._photos.check(sent.photo) if sent.photo else None
        admission = self._store.admit(
            code.id, device=device, address=address, at=self._clock.now(), limits=self._limits
        )
        if admission.refused is not None:
            raise SubmissionRefusedError(self._limit_text(admission.refused))
        described = f"{text}\n联系电话：{phone}" if phone else text
        reporter = Reporter(PAGE_CHANNEL, "", PAGE_GROUP_NAME, device, PAGE_RESIDENT)
        origin = f"qr:{device}:{one_line(sent.form_id, limit=40) or secrets.token_urlsafe(12)}"
        try:
            recognition = Recognition(RecognitionKind.EXPLICIT, self._categorise(text), 1.0, described)
            draft = self._petitions.draft(recognition, reporter, origin=origin)
            filing = self._petitions.file(replace(draft, location=code.place, community=code.community))
        except BaseException:
            self._store.withdraw(admission.submission_id)
            raise
        petition = filing.petition
        assert petition is not None  # filed without a receipt: always a case
        if not filing.created:  # the same form sent twice: the case it made, counted once
            self._store.withdraw(admission.submission_id)
            return PageFiling(petition)
        self._store.settle(admission.submission_id, petition.number)
        if checked is None:
            return PageFiling(petition)
        try:
            self._photos.keep(petition, *checked, source=PhotoSource.DOOR_CODE)
        except AssistantError as refused:  # the disk is full, say: the case stands, the resident is told
            log.warning("photo of petition %s not kept: %s", petition.number, refused)
            return PageFiling(petition, str(refused))
        return PageFiling(petition)

    def _limit_text(self, hit: LimitHit) -> str:
        """Why a submission past a limit is refused, and what to do instead."""
        return {
            LimitHit.DEVICE: (
                f"这部手机一小时内最多提交 {self._limits.per_device_hour} 次，请稍后再试；急事请直接联系社区工作人员。"
            ),
            LimitHit.ADDRESS: "这个网络一小时内提交得太多了，请稍后再试；急事请直接联系社区工作人员。",
            LimitHit.CODE: "这个门牌码今天收到的反映太多了，请明天再试，或直接联系社区工作人员。",
        }[hit]

    def followed(self, number: str, *, device: str) -> Petition | None:
        """The case numbered so if this device filed it on the page; None otherwise (nobody else's cases are told)."""
        petition = self._petitions.case(number[:16])
        if petition is None or petition.reporter.channel != PAGE_CHANNEL or petition.reporter.user_id != device:
            return None
        return petition

    def mine(self, device: str, *, limit: int = 10) -> list[Petition]:
        """The cases this device filed on the page, newest first."""
        return self._petitions.reported_by(PAGE_CHANNEL, device, limit=limit)

    def answer(self, petition: Petition, rating: Rating | None) -> Petition:
        """The page resident answers their resolved case as a chat resident would: a rating closes it, None ("没解决")
        reopens it (PetitionMoveRefused when it is no longer resolved)."""
        return self._petitions.answer(petition, Verdict(rating, petition.number))

    def progress(self, petition: Petition) -> list[Transition]:
        """The case's moves, oldest first, for the resident's page."""
        return self._petitions.history(petition)
