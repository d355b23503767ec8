"""Petitions (诉求): how a resident's message is recognised as one, and the case it becomes — numbered, moved through
a workflow until it is closed, the resident told of each step."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import AssistantError
from bot.domain.messages import OutboundMessage
from bot.domain.workflow import TransitionNotAllowed, Workflow

# ---- recognition


@dataclass(frozen=True, slots=True)
class PetitionCategory:
    """A category staff define for petitions: its name, what it covers, and a few example messages."""

    name: str
    description: str
    examples: tuple[str, ...] = ()
    code: str = ""  # a stable ASCII code outside systems know it by (Open311's service_code); "" until one is set
    department: str = ""  # who a case of this category goes to by default ("" : staff name one at dispatch)
    deadline_hours: int = 120  # how long a case may take from filing to resolved
    urgent_deadline_hours: int = 24  # the same for an urgent case (never longer than deadline_hours)


class RecognitionKind(StrEnum):
    """Whether a resident's message is a petition."""

    # The resident said so ("报事 …", "#诉求 …", "我要反映…", "投诉…"): always a petition
    EXPLICIT = "explicit"
    # It reads as a complaint or report: the resident is asked to confirm before a case is made
    IMPLICIT = "implicit"
    # A question, chatter or anything else: answered as before
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Recognition:
    """What the recogniser made of a message: the kind, the likeliest category, its score and the petition's text.

    `text` is the message (spaces collapsed) with an explicit trigger ("报事", "#诉求" …) removed; `score` is the
    petition score in [0, 1] (1.0 for an explicit petition); `category` is the likeliest category's name for a
    petition, "" for `none` and for a bare trigger ("报事" alone: nothing to judge yet).
    """

    kind: RecognitionKind
    category: str
    score: float
    text: str

    @property
    def is_petition(self) -> bool:
        """Explicit or implicit."""
        return self.kind is not RecognitionKind.NONE


# ---- cases

# The category a petition gets when nothing better is known (staff edit the list of categories).
DEFAULT_CATEGORY = "其他"
# The channel of cases an outside system (a city platform, the 12345 hotline) files through the Open311 API.
OPEN311_CHANNEL = "open311"


class PetitionStatus(StrEnum):
    """Where a case stands; label is what residents read."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    MERGED = "merged"
    REOPENED = "reopened"

    @property
    def label(self) -> str:
        """The status in residents' words."""
        return _STATUS_LABELS[self]

    @property
    def settled(self) -> bool:
        """Whether nothing more happens to the case (closed, rejected or merged into another)."""
        return self in _SETTLED

    @property
    def done(self) -> bool:
        """Whether the case's deadline no longer runs: resolved (waiting for the resident) or settled."""
        return self is PetitionStatus.RESOLVED or self in _SETTLED


_STATUS_LABELS = {
    PetitionStatus.SUBMITTED: "已登记",
    PetitionStatus.ACCEPTED: "已受理",
    PetitionStatus.DISPATCHED: "已派单",
    PetitionStatus.IN_PROGRESS: "处理中",
    PetitionStatus.RESOLVED: "已办结",
    PetitionStatus.CLOSED: "已关闭",
    PetitionStatus.REJECTED: "不予受理",
    PetitionStatus.MERGED: "已合并",
    PetitionStatus.REOPENED: "重新办理",
}
_SETTLED = frozenset({PetitionStatus.CLOSED, PetitionStatus.REJECTED, PetitionStatus.MERGED})


class PetitionEvent(StrEnum):
    """What staff, the resident or the assistant do to a case; label is how staff say it."""

    ACCEPT = "accept"
    DISPATCH = "dispatch"
    START = "start"
    RESOLVE = "resolve"
    CLOSE = "close"  # the resident confirms it is fixed
    EXPIRE = "expire"  # resolved and no answer from the resident for N days
    REJECT = "reject"
    MERGE = "merge"  # a duplicate of another case
    REOPEN = "reopen"  # the resident says it is not fixed
    ESCALATE = "escalate"  # 吹哨报到: the street office is called in; the status stays
    NOTE = "note"  # a note on the case's history (an outside system's update that changes no status)

    @property
    def label(self) -> str:
        """The event in staff's words."""
        return _EVENT_LABELS[self]


_EVENT_LABELS = {
    PetitionEvent.ACCEPT: "受理",
    PetitionEvent.DISPATCH: "派单",
    PetitionEvent.START: "开始处理",
    PetitionEvent.RESOLVE: "办结",
    PetitionEvent.CLOSE: "关闭",
    PetitionEvent.EXPIRE: "到期自动关闭",
    PetitionEvent.REJECT: "不予受理",
    PetitionEvent.MERGE: "合并",
    PetitionEvent.REOPEN: "重新办理",
    PetitionEvent.ESCALATE: "吹哨",
    PetitionEvent.NOTE: "备注",
}


class PetitionMoveRefused(TransitionNotAllowed):
    """A move the case's status does not allow (or a case that is not there)."""


_S, _E = PetitionStatus, PetitionEvent
_ESCALATABLE = (_S.SUBMITTED, _S.ACCEPTED, _S.DISPATCHED, _S.IN_PROGRESS, _S.REOPENED)
# The loop: registered → accepted → dispatched → being handled → resolved → closed (the resident confirms, or says
# nothing for N days). Rejecting needs a reason; a duplicate is merged before anyone works on it. A resident who says
# it is not fixed reopens it into a status of its own ("重新办理"), not straight back into "处理中": the board shows
# reopened cases apart (they are the ones the loop failed), and from there the case is taken up again or sent to
# another department.
PETITION_WORKFLOW: Workflow[PetitionStatus, PetitionEvent] = Workflow(
    "petition",
    "诉求",
    statuses={status: status.label for status in PetitionStatus},
    events={event: event.label for event in PetitionEvent},
    moves={
        (_S.SUBMITTED, _E.ACCEPT): _S.ACCEPTED,
        (_S.ACCEPTED, _E.DISPATCH): _S.DISPATCHED,
        (_S.DISPATCHED, _E.START): _S.IN_PROGRESS,
        (_S.IN_PROGRESS, _E.RESOLVE): _S.RESOLVED,
        (_S.RESOLVED, _E.CLOSE): _S.CLOSED,
        (_S.RESOLVED, _E.EXPIRE): _S.CLOSED,
        (_S.SUBMITTED, _E.REJECT): _S.REJECTED,
        (_S.ACCEPTED, _E.REJECT): _S.REJECTED,
        (_S.SUBMITTED, _E.MERGE): _S.MERGED,
        (_S.ACCEPTED, _E.MERGE): _S.MERGED,
        (_S.DISPATCHED, _E.MERGE): _S.MERGED,
        (_S.RESOLVED, _E.REOPEN): _S.REOPENED,
        (_S.REOPENED, _E.START): _S.IN_PROGRESS,
        (_S.REOPENED, _E.DISPATCH): _S.DISPATCHED,
        # 吹哨报到: any case still being worked on may be escalated to the street office; it keeps its status (the
        # move is recorded with why and who was told, so the history shows it)
        **{(status, _E.ESCALATE): status for status in _ESCALATABLE},
        # a note (an outside system's news) changes nothing but the history and the case's last note; a settled case
        # takes nothing more
        **{(status, _E.NOTE): status for status in (*_ESCALATABLE, _S.RESOLVED)},
    },
    error=PetitionMoveRefused,
)


class Urgency(StrEnum):
    """How soon a case needs attention."""

    NORMAL = "normal"
    URGENT = "urgent"

    @property
    def label(self) -> str:
        """The urgency in staff's words."""
        return "紧急" if self is Urgency.URGENT else "一般"


class Rating(StrEnum):
    """The resident's verdict when the case is closed."""

    SATISFIED = "satisfied"
    FAIR = "fair"
    DISSATISFIED = "dissatisfied"

    @property
    def label(self) -> str:
        """The rating as residents give it."""
        return {"satisfied": "满意", "fair": "基本满意", "dissatisfied": "不满意"}[self.value]


# The 门牌码 phone page: a resident who filed there follows the case on that page; nothing is sent to them.
PAGE_CHANNEL = "qr"


@dataclass(frozen=True, slots=True)
class Reporter:
    """Who filed a case and where: the channel, the group (empty: a private chat) and the resident (names masked)."""

    channel: str
    group_id: str
    group_name: str
    user_id: str
    display_name: str

    @property
    def masked_name(self) -> str:
        """The resident's name as staff lists show it: the first character, the rest starred ("李**")."""
        name = self.display_name.strip()
        return f"{name[0]}{'*' * min(max(len(name) - 1, 1), 3)}" if name else "居民"

    @property
    def reachable(self) -> bool:
        """Whether the resident can be sent messages: not when they filed through Open311 (followed in that system)
        or on the 门牌码 page (followed there)."""
        return self.channel not in (OPEN311_CHANNEL, PAGE_CHANNEL)

    def told(self, text: str, *, privately: bool = False) -> OutboundMessage:
        """A message to this resident: in their group @-mentioning them, or privately (always from a private chat)."""
        if privately or not self.group_id:
            return OutboundMessage(self.channel, text, user_id=self.user_id)
        return OutboundMessage(self.channel, text, group_id=self.group_id, mention_ids=(self.user_id,))


@dataclass(frozen=True, slots=True)
class PetitionDraft:
    """A petition before it has a number: filed at once, or held until the resident confirms it. origin is the id of
    the inbound message it came from; one message never makes two cases."""

    category: str
    description: str
    location: str
    reporter: Reporter
    urgency: Urgency
    origin: str
    community: str = ""  # no group to take it from: a 门牌码 or Open311 case's community; "": the group's
    category_chosen: bool = False  # the category came with the case (an Open311 service_code): never read again


@dataclass(frozen=True, slots=True)
class Petition:
    """A stored case. number ("2026-0012") is what residents and staff quote; id is the database's."""

    id: int
    number: str
    category: str
    description: str
    location: str
    reporter: Reporter
    urgency: Urgency
    status: PetitionStatus
    created_at: datetime
    updated_at: datetime
    origin: str
    department: str = ""
    handler: str = ""
    rating: Rating | None = None
    note: str = ""  # the last move's note (a rejection's reason, what was done)
    resolved_at: datetime | None = None
    due_at: datetime | None = None  # when it must be resolved by (its category's deadline); None: no deadline
    community: str = ""  # no group to take it from: a 门牌码 or Open311 case's community; "": the group's
    escalated_at: datetime | None = None  # when it was last escalated to the street office (吹哨); None: never

    def overdue(self, now: datetime) -> bool:
        """Whether the case is past its deadline and not yet resolved."""
        return self.due_at is not None and now > self.due_at and not self.status.done


@dataclass(frozen=True, slots=True)
class Receipt:
    """The inbound message a petition step answers: marked handled, with outcome, in the step's own transaction."""

    message_id: str
    outcome: str


# The replies for a case filed, made once its number is known (inside the filing transaction).
RepliesFor = Callable[[Petition], Sequence[OutboundMessage]]


@dataclass(frozen=True, slots=True)
class Filing:
    """What filing did: the case (new, or the one its origin already made), the replies queued, and whether the
    inbound message was marked handled with them (False: another delivery of it was handled first)."""

    petition: Petition | None
    replies: tuple[OutboundMessage, ...]
    recorded: bool
    created: bool = False


# What staff may do in the console: every event but the assistant's own expiry; a handler (部门经办人) only works a
# case dispatched to their department.
_STAFF_EVENTS = frozenset(PetitionEvent) - {PetitionEvent.EXPIRE, PetitionEvent.NOTE}
_HANDLER_EVENTS = frozenset({PetitionEvent.START, PetitionEvent.RESOLVE})


def staff_may(event: PetitionEvent, *, handler: bool) -> bool:
    """Whether a staff member may take event at all (a handler only starts and resolves cases)."""
    return event in (_HANDLER_EVENTS if handler else _STAFF_EVENTS)


def staff_events(status: PetitionStatus, *, handler: bool) -> tuple[PetitionEvent, ...]:
    """The events a staff member may take on a case in status, in the workflow's order."""
    return tuple(e for e in PETITION_WORKFLOW.allowed_events(status) if staff_may(e, handler=handler))


@dataclass(frozen=True, slots=True)
class BoardFilter:
    """Which cases a board shows; an empty or None field shows any. community is the reporting group's community
    (a private chat's or an unregistered group's: the default one); department the one a case was dispatched to
    (a given department never matches a case not dispatched yet)."""

    status: PetitionStatus | None = None
    category: str = ""
    community: str | None = None
    department: str | None = None
    overdue_at: datetime | None = None  # given: only the cases overdue at that time
    escalated: bool = False  # only the cases escalated to the street office


class PetitionNotFoundError(AssistantError):
    """No case has that number."""


class ReasonRequiredError(AssistantError):
    """A move that the resident must be given a reason for came without one."""


def case_number(year: int, sequence: int) -> str:
    """The number residents quote: the year and a per-year sequence of at least four digits ("2026-0012")."""
    return f"{year}-{sequence:04d}"


_NUMBER = re.compile(r"(20\d{2})\s*[-—－_.]\s*(\d{1,6})")


def find_case_number(text: str) -> str | None:
    """The case number in text, however typed ("2026－12", "２０２６-0012" → "2026-0012"), or None."""
    match = _NUMBER.search(unicodedata.normalize("NFKC", text))
    return case_number(int(match.group(1)), int(match.group(2))) if match else None


_NUMERAL = r"[0-9一二三四五六七八九十百两]+"
# A building, unit, room or floor ("3号楼", "2单元", "301室", "5层", "3-2-301"), or a place the whole compound
# shares ("小区门口", "停车场"). A place inside some building ("楼道", "楼下") says nothing until the building is named.
_LOCATION = re.compile(
    rf"{_NUMERAL}\s*(?:号楼|号院|号门|栋|幢|座|单元|室|层|楼|期|区)"
    rf"(?:\s*{_NUMERAL}\s*(?:号楼|栋|幢|座|单元|室|层|楼|号))*"
    r"|\d+-\d+(?:-\d+)?"
    r"|(?:小区|[东南西北])(?:门口|大门)|小区大门|(?:地下)?车库|停车场|小区花园|广场|垃圾站|门卫室"
)


def find_location(text: str) -> str:
    """Where the matter is, as the resident named it ("3号楼2单元", "小区门口"), or "" when they did not say."""
    match = _LOCATION.search(unicodedata.normalize("NFKC", text))
    return match.group(0).strip() if match else ""


_URGENT = re.compile(r"紧急|急事|很急|着急|危险|着火|起火|冒烟|漏电|漏气|燃气|煤气|被困|困在|下不了楼")


def urgency_of(text: str) -> Urgency:
    """Urgent when the resident speaks of danger or urgency (fire, gas, electricity, someone trapped)."""
    return Urgency.URGENT if _URGENT.search(text) else Urgency.NORMAL
