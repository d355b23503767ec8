"""Open311 GeoReport v2 (with mySociety's extensions): how a petition (诉求) looks to an outside system — a city
platform or the 12345 hotline — that pulls and pushes cases as service requests; the API keys such systems post
with. Plain values and rules, no I/O."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from bot.domain.errors import AssistantError
from bot.domain.petitions import PETITION_WORKFLOW, Petition, PetitionCategory, PetitionEvent, PetitionStatus
from bot.domain.workflow import Transition


class BasicStatus(StrEnum):
    """The two statuses GeoReport v2 itself knows."""

    OPEN = "open"
    CLOSED = "closed"


# Each of our statuses as GeoReport's basic status and mySociety's extended one. A rejection is "no further action"
# rather than "not the council's responsibility" (FixMyStreet's users found that one misleading); a resolved case
# waiting for the resident's rating is already "fixed".
STATUS_MAP: dict[PetitionStatus, tuple[BasicStatus, str]] = {
    PetitionStatus.SUBMITTED: (BasicStatus.OPEN, "for_triage"),
    PetitionStatus.ACCEPTED: (BasicStatus.OPEN, "open"),
    PetitionStatus.DISPATCHED: (BasicStatus.OPEN, "internal_referral"),
    PetitionStatus.IN_PROGRESS: (BasicStatus.OPEN, "in_progress"),
    PetitionStatus.REOPENED: (BasicStatus.OPEN, "reopen"),
    PetitionStatus.RESOLVED: (BasicStatus.CLOSED, "fixed"),
    PetitionStatus.CLOSED: (BasicStatus.CLOSED, "closed"),
    PetitionStatus.REJECTED: (BasicStatus.CLOSED, "no_further_action"),
    PetitionStatus.MERGED: (BasicStatus.CLOSED, "duplicate"),
}


# What an outside system may post as a request's new status (mySociety's extended statuses, and GeoReport's open
# and closed): each names one of ours. Several of theirs mean "being worked on"; "not the council's responsibility"
# is taken as a rejection (the posted description, its reason, is told to the resident).
POSTED_STATUSES: dict[str, PetitionStatus] = {
    **{extended: status for status, (_, extended) in STATUS_MAP.items()},
    "planned": PetitionStatus.IN_PROGRESS,
    "action_scheduled": PetitionStatus.IN_PROGRESS,
    "investigating": PetitionStatus.IN_PROGRESS,
    "not_councils_responsibility": PetitionStatus.REJECTED,
}


def basic_status(status: PetitionStatus) -> BasicStatus:
    """open or closed."""
    return STATUS_MAP[status][0]


def extended_status(status: PetitionStatus) -> str:
    """mySociety's extended status of one of ours."""
    return STATUS_MAP[status][1]


def statuses_named(name: str) -> frozenset[PetitionStatus]:
    """Our statuses a status filter names: a basic one (open, closed) or an extended one; empty for an unknown name."""
    wanted = name.strip().lower()
    return frozenset(s for s, (basic, extended) in STATUS_MAP.items() if wanted in (basic.value, extended))


_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def valid_service_code(code: str) -> bool:
    """Whether code can be a service_code: 1–32 ASCII letters, digits, '-' or '_'."""
    return bool(_CODE.match(code))


def service_code(category: PetitionCategory) -> str:
    """A category's stable ASCII code: the code staff gave it, else one derived from its name alone (so reordering
    or adding categories never changes another's code)."""
    if category.code:
        return category.code
    return "c" + hashlib.sha256(category.name.encode("utf-8")).hexdigest()[:10]


_KEYWORD_SPLIT = re.compile(r"[、，,；;。/]")


def service_keywords(category: PetitionCategory, *, limit: int = 8) -> list[str]:
    """Short words from a category's description ("电梯、水管、下水道…" → 电梯, 水管, 下水道)."""
    words = [w.strip() for w in _KEYWORD_SPLIT.split(category.description)]
    return [w for w in words if 0 < len(w) <= 8][:limit]


def w3c(at: datetime, offset: timedelta) -> str:
    """A W3C datetime in local time with its offset ("2026-11-28T10:00:00+08:00")."""
    return at.astimezone(timezone(offset)).isoformat(timespec="seconds")


class DateNotUnderstood(ValueError):
    """A start_date or end_date that is no W3C datetime."""


def parse_w3c(text: str, offset: timedelta) -> datetime:
    """A W3C datetime (a date alone is its local midnight; no offset: local time); DateNotUnderstood otherwise."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DateNotUnderstood(text) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone(offset))


def update_event(current: PetitionStatus, wanted: PetitionStatus) -> PetitionEvent | None:
    """The workflow event an outside system's update stands for: the move from current to wanted (NOTE when the
    status stays); None when the workflow has no such move. The assistant's own expiry and 吹哨 are never taken."""
    if wanted is current:
        return PetitionEvent.NOTE
    for event in PETITION_WORKFLOW.allowed_events(current):
        if event in _NOT_POSTED:
            continue
        if PETITION_WORKFLOW.next(current, event) is wanted:
            return event
    return None


_NOT_POSTED = frozenset({PetitionEvent.EXPIRE, PetitionEvent.ESCALATE, PetitionEvent.NOTE})


@dataclass(frozen=True, slots=True)
class ExternalUpdate:
    """An update an outside system posted, by its API key and its own update_id: recorded once with its move."""

    api_key_id: int
    update_id: str


class UpdateAlreadyRecorded(AssistantError):
    """The same outside update was recorded before (two posts of it crossed)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key an outside system posts requests with; only the SHA-256 of the key itself is stored. community limits
    it to one jurisdiction ("" for any)."""

    id: int
    name: str
    community: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    def serves(self, community: str) -> bool:
        """Whether the key may file cases in community."""
        return not self.community or self.community == community


@dataclass(frozen=True, slots=True)
class CaseMove:
    """One recorded move of a case, with the case as it is now (a service request update)."""

    move: Transition
    petition: Petition


class Open311Error(AssistantError):
    """A request GeoReport answers with an error list: the HTTP status, and the description (in Chinese) the outside
    system's staff read."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
