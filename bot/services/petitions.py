"""Petitions (诉求) in chat: taking a case down (at once when said as one, after the resident confirms a complaint),
asking once where it is, telling the resident its status, and moving it through its workflow with the resident told
of each step through the outbox."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.errors import AssistantError
from bot.domain.messages import OutboundMessage, excerpt, one_line, plain_text
from bot.domain.open311 import CaseMove, ExternalUpdate
from bot.domain.petitions import (
    DEFAULT_CATEGORY,
    PAGE_CHANNEL,
    PETITION_WORKFLOW,
    BoardFilter,
    Filing,
    Petition,
    PetitionDraft,
    PetitionEvent,
    PetitionMoveRefused,
    PetitionNotFoundError,
    PetitionStatus,
    Rating,
    ReasonRequiredError,
    Receipt,
    Recognition,
    RecognitionKind,
    Reporter,
    Urgency,
    find_case_number,
    find_location,
    urgency_of,
)
from bot.domain.photos import Photo
from bot.domain.privacy import mask_personal_data
from bot.domain.routing import Department
from bot.domain.staff import ASSISTANT, Actor, Venue
from bot.domain.workflow import Transition, TransitionNotAllowed
from bot.ports import Clock, GroupDirectory, PetitionClassifier, PetitionRefiner, PetitionStore
from bot.services.audit import StaffAudit
from bot.services.petition_recognition import explicit_petition
from bot.services.routing import PetitionRouting
from bot.services.safety import SensitiveWords

CONFIRM_TEXT = "这像是要反映问题，需要登记为诉求吗？回复 1 确认"
LOCATION_QUESTION = "请问具体在哪栋楼、哪个单元？"
EMPTY_PETITION_TEXT = "请把要反映的事情说一说，比如“报事 3号楼电梯坏了”。"
# What a case keeps of the resident's words, and of a location they give.
DESCRIPTION_CHARS = 500
LOCATION_CHARS = 100
DEPARTMENT_CHARS = 64
_NOTE_CHARS = 500
_REASON_CHARS = 120
_MINE_LIMIT = 5
# Statuses whose last note the resident is told when asking (the reason, what was done).
_NOTE_TOLD = frozenset({PetitionStatus.RESOLVED, PetitionStatus.REJECTED, PetitionStatus.MERGED})

# "报事 …", "#诉求 …", "我要反映…", "投诉…": always a petition (the explicit triggers).
_CONFIRM = re.compile(r"^\s*(?:1|确认|登记)\s*[。.!！]?\s*$")
_STATUS_QUERY = re.compile(r"^\s*(?:查询|查一下|查|询问)\s*(?:诉求|编号|进展|进度)?")
_MINE_QUERY = re.compile(r"^\s*(?:查询|查看|查|看看|看)?\s*我的(?:诉求|报事|投诉)\s*[？?。]?\s*$")
# Staff in their group: "2026-0012 受理", "2026-0012 派单 物业", "2026-0012 办结：已修好", "2026-0012 合并 2026-0009".
_STAFF_MOVE = re.compile(
    r"^\s*(20\d{2}\s*[-—－_.]\s*\d{1,6})\s*(不予受理|受理|派单|处理中|开始处理|办结|合并|吹哨)\s*[:：,，]?\s*(.*)$",
    re.DOTALL,
)
_STAFF_EVENTS = {
    "受理": PetitionEvent.ACCEPT,
    "派单": PetitionEvent.DISPATCH,
    "处理中": PetitionEvent.START,
    "开始处理": PetitionEvent.START,
    "办结": PetitionEvent.RESOLVE,
    "不予受理": PetitionEvent.REJECT,
    "合并": PetitionEvent.MERGE,
    "吹哨": PetitionEvent.ESCALATE,
}
# The resident's answer to a resolved case: a rating closes it, "没解决" reopens it (a case number may lead).
_VERDICT = re.compile(
    r"^\s*(?:(20\d{2}\s*[-—－_.]\s*\d{1,6})\s*)?(基本满意|不满意|满意|没解决|没有解决|还没解决|未解决)\s*[。.!！]?\s*$"
)
_RATINGS = {rating.label: rating for rating in Rating}
RATE_PROMPT = "办理结果请回复 满意 / 基本满意 / 不满意；没解决请回复 没解决。"
# Who the workflow's history and the audit name when a resident answers their resolved case.
RESIDENT = Actor("居民", Venue.ASSISTANT)


class EscalationTargetMissingError(AssistantError):
    """A case is escalated but no street office (with a WeChat group or a robot) is set up to be told."""


class KeywordTriggers:
    """The explicit triggers alone: "报事 …", "#诉求 …", "我要反映…", "投诉…" are petitions (category 其他); every
    other message is none. The recogniser's fallback for what a resident says as a petition."""

    def recognise(self, text: str) -> Recognition:
        """EXPLICIT with the trigger removed, or NONE."""
        rest = explicit_petition(" ".join(text.split()))
        if rest is None:
            return Recognition(RecognitionKind.NONE, "", 0.0, text)
        return Recognition(RecognitionKind.EXPLICIT, DEFAULT_CATEGORY, 1.0, rest)


@dataclass(frozen=True, slots=True)
class PetitionQuery:
    """A resident asking after their petitions: one case by number, or all of theirs (number None)."""

    number: str | None


def parse_query(text: str) -> PetitionQuery | None:
    """'查询 2026-0012' → that case; '我的诉求' → all of the resident's; anything else None."""
    if _MINE_QUERY.match(text):
        return PetitionQuery(None)
    if _STATUS_QUERY.match(text):
        number = find_case_number(text)
        if number is not None:
            return PetitionQuery(number)
    return None


@dataclass(frozen=True, slots=True)
class StaffMove:
    """A move staff order in their group: the case's number, the event and what follows it (the department, the
    note, the reason, the case merged into)."""

    number: str
    event: PetitionEvent
    note: str


def parse_staff_move(text: str) -> StaffMove | None:
    """'2026-0012 派单 物业' → (2026-0012, dispatch, "物业"); anything else None."""
    match = _STAFF_MOVE.match(unicodedata.normalize("NFKC", text))
    if match is None:
        return None
    number = find_case_number(match.group(1))
    assert number is not None  # the pattern matched a number
    return StaffMove(number, _STAFF_EVENTS[match.group(2)], match.group(3).strip())


@dataclass(frozen=True, slots=True)
class Verdict:
    """A resident's answer to their resolved case: a rating (closes it) or None for "没解决" (reopens it); number is
    the case they named, if they named one."""

    rating: Rating | None
    number: str | None


def parse_verdict(text: str) -> Verdict | None:
    """'满意' → satisfied; '2026-0012 没解决' → reopen that case; anything else None."""
    match = _VERDICT.match(unicodedata.normalize("NFKC", text))
    if match is None:
        return None
    number = find_case_number(match.group(1)) if match.group(1) else None
    return Verdict(_RATINGS.get(match.group(2)), number)


def is_confirmation(text: str) -> bool:
    """Whether text confirms a complaint as a petition ("1")."""
    return bool(_CONFIRM.match(unicodedata.normalize("NFKC", text)))


def case_community(petition: Petition, groups: GroupDirectory) -> str:
    """A case's community: its own when filed without a group (from a 门牌码, through Open311), else its group's (a
    private chat's: the default). The board's SQL filter (SqlPetitions._filtered) reads it the same way."""
    return petition.community or groups.community_of(petition.reporter.group_id)


class PetitionDesk:
    """Takes petitions down and moves them along; each move is audited here once, whoever made it and wherever."""

    def __init__(
        self,
        store: PetitionStore,
        classifier: PetitionClassifier,
        clock: Clock,
        *,
        audit: StaffAudit,
        confirm_within: timedelta = timedelta(minutes=10),
        close_after: timedelta = timedelta(days=7),
        private_categories: Iterable[str] = ("邻里纠纷",),
        utc_offset: timedelta = timedelta(hours=8),
        sensitive: SensitiveWords | None = None,
        staff_group_id: str = "",
        staff_channel: str = "wechat",
        routing: PetitionRouting | None = None,
        fields: PetitionRefiner | None = None,
    ) -> None:
        """routing gives each category's deadline and default department and the departments' notices (None: cases
        get no deadline and dispatches notify nobody but the resident); fields reads a case's category, place and
        urgency with the LLM just before it is filed (None, offline: the rules' draft is filed)."""
        self._store = store
        self._routing = routing
        self._classifier = classifier
        self._clock = clock
        self._audit = audit
        self._confirm_within = confirm_within
        self._close_after = close_after
        self._private = frozenset(private_categories)
        self._utc_offset = utc_offset
        self._sensitive = sensitive
        self._staff_group_id = staff_group_id
        self._staff_channel = staff_channel
        self._fields = fields

    def recognise(self, text: str) -> Recognition:
        """Whether text is a petition (explicit or implicit) or not."""
        return self._classifier.recognise(text)

    def draft(self, recognition: Recognition, reporter: Reporter, *, origin: str) -> PetitionDraft:
        """The petition a recognised message describes (masked, bounded), with the place and urgency it names."""
        description = masked_text(plain_text(recognition.text.strip(), limit=DESCRIPTION_CHARS * 2), DESCRIPTION_CHARS)
        return PetitionDraft(
            category=one_line(recognition.category, limit=32) or DEFAULT_CATEGORY,
            description=description,
            location=masked_text(find_location(description), LOCATION_CHARS),
            reporter=reporter,
            urgency=urgency_of(description),
            origin=origin,
        )

    def file(self, draft: PetitionDraft, *, receipt: Receipt | None = None) -> Filing:
        """Store the case and, with a receipt, tell the resident its number in the same transaction (asking where it
        is when they did not say): the number is never told before the case is stored. With the LLM configured its
        fields are read first, outside the filing transaction, and only for what is filed (a complaint once
        confirmed)."""
        if self._fields is not None:
            draft = self._fields.refine(draft)
        now = self._clock.now()
        routed_to = self._routing.default_department(draft.category) if self._routing is not None else ""
        return self._store.file(
            draft,
            year=self._local(now).year,
            now=now,
            receipt=receipt,
            replies=lambda petition: [draft.reporter.told(_filed_text(petition))],
            notices=lambda petition: self._staff_notice(
                _staff_filed_text(petition, routed_to, self._due_text(petition))
            ),
            route=self._routing.default_route(draft.category) if self._routing is not None else None,
        )

    def ask_to_confirm(self, draft: PetitionDraft, *, receipt: Receipt) -> list[OutboundMessage]:
        """Keep a complaint for the resident to confirm ("回复 1 确认") and ask them; [] if their message was handled
        before. Kept in the database, so a restart does not lose it."""
        now = self._clock.now()
        replies = [draft.reporter.told(CONFIRM_TEXT)]
        held = self._store.hold(draft, now=now, expires_at=now + self._confirm_within, receipt=receipt, replies=replies)
        return replies if held else []

    def pending(self, reporter: Reporter) -> PetitionDraft | None:
        """The complaint this resident was asked to confirm in the last confirm_within, if any."""
        return self._store.pending(reporter.channel, reporter.group_id, reporter.user_id, now=self._clock.now())

    def drop_pending(self, reporter: Reporter) -> bool:
        """The resident said something else than "1": their complaint is not filed."""
        return self._store.drop_pending(reporter.channel, reporter.group_id, reporter.user_id)

    def hold_photo(self, draft: PetitionDraft, photo: Photo, content: bytes, *, limit: int) -> int | None:
        """Keep a picture with the complaint waiting for the resident's "1": its place among the draft's pictures;
        None when it is no longer waiting; PhotoRefusedError past limit."""
        return self._store.hold_photo(draft, photo, content, now=self._clock.now(), limit=limit)

    def pending_photos(self, draft: PetitionDraft) -> list[tuple[Photo, bytes]]:
        """The pictures the resident sent with a complaint before confirming it."""
        return self._store.pending_photos(draft)

    def awaiting_location(self, reporter: Reporter) -> Petition | None:
        """The resident's case whose location was just asked for (within confirm_within), if any."""
        since = self._clock.now() - self._confirm_within
        return self._store.awaiting_location(reporter.channel, reporter.group_id, reporter.user_id, since=since)

    def awaits_reply(self, reporter: Reporter, text: str) -> bool:
        """Whether text answers what the assistant just asked this resident about a petition: "1" to a confirmation,
        or a place to "在哪栋楼". The text is looked at first, so most messages cost no database read."""
        if is_confirmation(text):
            return self.pending(reporter) is not None
        verdict = parse_verdict(text)
        if verdict is not None:
            return self.awaiting_verdict(reporter, verdict.number) is not None
        return bool(find_location(text)) and self.awaiting_location(reporter) is not None

    def photo_case(self, reporter: Reporter, *, within: timedelta) -> Petition | None:
        """The case a picture this resident just sent belongs to: their newest unsettled case filed in this group (or
        this private chat) within the last within, if any."""
        since = self._clock.now() - within
        cases = self._store.of_reporter(
            reporter.channel, reporter.user_id, group_id=reporter.group_id, open_only=True, limit=1
        )
        return next((p for p in cases if p.created_at >= since), None)

    def locate(self, petition: Petition, text: str, *, receipt: Receipt) -> list[OutboundMessage]:
        """Keep where the case is, as the resident said it, and thank them; [] if their message was handled before."""
        location = masked_text(one_line(text, limit=LOCATION_CHARS * 2), LOCATION_CHARS)
        replies = [petition.reporter.told(f"好的，已记下位置：{location}（诉求编号 {petition.number}）。")]
        kept = self._store.locate(petition.id, location, now=self._clock.now(), receipt=receipt, replies=replies)
        return replies if kept else []

    def status(self, number: str, asker: Reporter) -> str:
        """The reply to "查询 2026-0012": where the asker's own case stands (nobody else's cases are told)."""
        petition = self._store.get(number)
        if petition is None or (petition.reporter.channel, petition.reporter.user_id) != (
            asker.channel,
            asker.user_id,
        ):
            return f"没有找到您登记的编号为 {number} 的诉求，请核对编号；发“我的诉求”可以查看您登记过的。"
        if asker.group_id and self._told_privately(petition):
            return f"编号 {number} 的诉求请私聊我查询。"
        text = (
            f"诉求 {petition.number}（{petition.category}）：{petition.status.label}。"
            f"{self._quoted(petition, 30, '', then='，')}{self._day(petition.created_at)}登记。"
        )
        if petition.note and petition.status in _NOTE_TOLD:
            text += f"说明：{petition.note}"
        return text

    def mine(self, asker: Reporter) -> str:
        """The reply to "我的诉求": the asker's open cases (in a group, only those filed there and not private)."""
        cases = self._store.of_reporter(
            asker.channel, asker.user_id, group_id=asker.group_id or None, open_only=True, limit=_MINE_LIMIT * 2
        )
        shown = [p for p in cases if not (asker.group_id and self._told_privately(p))][:_MINE_LIMIT]
        if not shown:
            return "您目前没有在办的诉求。要反映问题，请发“报事”加上事情，比如“报事 3号楼电梯坏了”。"
        lines = [f"{p.number}{self._quoted(p, 16, '', before=' ')}：{p.status.label}" for p in shown]
        return "您在办的诉求：\n" + "\n".join(lines) + "\n发“查询 编号”可以看详情。"

    def case(self, number: str) -> Petition | None:
        """One case by its number."""
        return self._store.get(number)

    def by_origin(self, origin: str) -> Petition | None:
        """The case a message (or an Open311 request) made, if any."""
        return self._store.by_origin(origin)

    def matching(
        self,
        shown: BoardFilter,
        *,
        numbers: Sequence[str] = (),
        statuses: Collection[PetitionStatus] = (),
        created_from: datetime | None = None,
        created_until: datetime | None = None,
        offset: int = 0,
        limit: int,
    ) -> list[Petition]:
        """The cases a filter matches (its status ignored), narrowed to numbers, statuses and filing times, newest
        first."""
        return self._store.matching(
            shown,
            numbers=numbers,
            statuses=statuses,
            created_from=created_from,
            created_until=created_until,
            offset=offset,
            limit=limit,
        )

    def moves_since(
        self, shown: BoardFilter, *, since: datetime, until: datetime | None = None, limit: int
    ) -> list[CaseMove]:
        """The recorded moves of the cases a filter matches made after since (up to until), oldest first."""
        return self._store.moves_since(shown, since=since, until=until, limit=limit)

    def reported_by(self, channel: str, user_id: str, *, limit: int) -> list[Petition]:
        """One resident's cases, settled or not, wherever they were filed, newest first."""
        return self._store.of_reporter(channel, user_id, group_id=None, open_only=False, limit=limit)

    def board(self, shown: BoardFilter, *, offset: int, limit: int) -> list[Petition]:
        """The cases a board shows, newest first."""
        return self._store.board(shown, offset=offset, limit=limit)

    def counts(self, shown: BoardFilter) -> dict[PetitionStatus, int]:
        """How many cases a board filter matches in each status (its own status ignored)."""
        return self._store.counts(shown)

    def history(self, petition: Petition) -> list[Transition]:
        """Every move of a case, oldest first: who, when, from what to what, and the note."""
        return self._store.history(petition.id)

    def order(self, command: StaffMove, *, actor: Actor) -> Petition:
        """A move staff ordered in their group: a dispatch names who takes it (kept as the case's department; none
        named: its category's), a merge the case it joins, an escalation why; then as move."""
        note = one_line(command.note, limit=_NOTE_CHARS)
        department = ""
        if command.event is PetitionEvent.DISPATCH:
            department, note = note or self.default_department(command.number), ""
            if not department:
                raise ReasonRequiredError(f"派单要写明派给谁，比如“{command.number} 派单 物业”")
        if command.event is PetitionEvent.MERGE:
            into = find_case_number(note)
            if into is None:
                raise ReasonRequiredError(f"合并要写明并入哪个诉求，比如“{command.number} 合并 2026-0009”")
            if into == command.number or self._store.get(into) is None:
                raise PetitionNotFoundError(f"没有可以并入的诉求 {into}")
            note = f"并入诉求 {into}"
        return self.move(command.number, command.event, actor=actor, note=note, department=department)

    def awaiting_verdict(self, reporter: Reporter, number: str | None = None) -> Petition | None:
        """The resident's resolved case waiting for their rating (the one numbered, else the newest; in a group only
        those filed there), or None."""
        cases = self._store.of_reporter(
            reporter.channel, reporter.user_id, group_id=reporter.group_id or None, open_only=True, limit=20
        )
        resolved = [p for p in cases if p.status is PetitionStatus.RESOLVED and number in (None, p.number)]
        return resolved[0] if resolved else None

    def answer(self, petition: Petition, verdict: Verdict, *, receipt: Receipt | None = None) -> Petition:
        """The reporter answers their resolved case: a rating closes it and is kept, "没解决" reopens it; the staff
        group is told either way, and the resident's message (if it came as one) marked handled in the move's
        transaction."""
        if verdict.rating is None:
            number = petition.number
            follow = f"回复“{number} 处理中”或“{number} 派单 部门”"
            notice = f"【诉求 {number}】居民说问题没解决，已重新办理。请跟进：{follow}。"
            return self.move(
                number, PetitionEvent.REOPEN, actor=RESIDENT, note="居民说没解决", staff=notice, receipt=receipt
            )
        notice = f"【诉求 {petition.number}】居民评价：{verdict.rating.label}，已关闭。"
        return self.move(
            petition.number,
            PetitionEvent.CLOSE,
            actor=RESIDENT,
            note=f"居民评价：{verdict.rating.label}",
            values={"rating": verdict.rating.value},
            staff=notice,
            receipt=receipt,
        )

    def move(
        self,
        number: str,
        event: PetitionEvent,
        *,
        actor: Actor,
        note: str = "",
        department: str = "",
        values: Mapping[str, object] | None = None,
        staff: str = "",
        receipt: Receipt | None = None,
        external: ExternalUpdate | None = None,
    ) -> Petition:
        """actor moves case number on event (setting values too): the move is recorded with who, when and note, the
        resident is told in their group (@-mentioned; privately for sensitive categories) and the staff group the
        staff text if any, the receipt's message marked handled (an outside system's update kept with the move), in
        the same transaction; and it is audited. A dispatch names the department the case goes to: kept on the case
        and said in the recorded note, not to the resident."""
        if event is PetitionEvent.ESCALATE:  # the resident is not told: see escalate
            escalated = self.escalate(number, note, actor=actor)
            assert escalated is not None  # only an automatic escalation is ever skipped
            return escalated
        note = plain_text(note, limit=_NOTE_CHARS).strip()
        if event is PetitionEvent.REJECT and not note:
            raise ReasonRequiredError("不予受理要写明原因，居民会收到这个原因")
        petition = self._store.get(number)
        if petition is None:
            raise PetitionNotFoundError(f"没有找到编号为 {number} 的诉求")
        now = self._clock.now()
        told = note
        department = one_line(department, limit=DEPARTMENT_CHARS) if event is PetitionEvent.DISPATCH else ""
        if department:
            note = f"派给{department}：{note}" if note else f"派给{department}"
        stored: dict[str, object] = {**(values or {}), "updated_at": now, "note": note}
        if department:
            stored["department"] = department
        if event is PetitionEvent.RESOLVE:
            stored["resolved_at"] = now
        messages = self._staff_notice(staff) if staff else []
        if petition.reporter.reachable:  # one who filed through Open311 or on the 门牌码 page follows it there
            notice = self._notice(petition, event, told)
            messages.insert(0, petition.reporter.told(notice, privately=self._told_privately(petition)))
        if department and self._routing is not None:  # the department's group and robot, with the move
            messages += self._routing.dispatched(petition, department).messages
        try:
            moved = self._store.move(
                petition.id,
                event,
                actor=actor.name,
                at=now,
                note=note,
                values=stored,
                messages=messages,
                receipt=receipt,
                external=external,
            )
        except TransitionNotAllowed as refused:
            raise _refusal(number, refused, event) from refused
        detail = f"{event.label}：{note}" if note else event.label
        self._audit.record_as(actor, "petition_moved", target=number, detail=detail)
        return moved

    def recorded_update(self, update: ExternalUpdate) -> int | None:
        """The number of the recorded move an outside system's update made, if it was recorded."""
        return self._store.recorded_update(update)

    def _due_text(self, petition: Petition) -> str:
        """When a case must be resolved by, as staff read it ("" : no deadline)."""
        if petition.due_at is None or self._routing is None:
            return ""
        return f"期限：{self._routing.local_time(petition.due_at)}前办结"

    def department_of_group(self, group_id: str) -> Department | None:
        """The department whose staff WeChat group group_id is, if any."""
        return self._routing.department_of_group(group_id) if self._routing is not None else None

    def default_department(self, number: str) -> str:
        """Who case number goes to when staff name nobody: its category's department ("" : none, or no such case)."""
        petition = self._store.get(number)
        if petition is None or self._routing is None:
            return ""
        return self._routing.default_department(petition.category)

    def escalate(self, number: str, reason: str, *, actor: Actor, once: bool = False) -> Petition | None:
        """吹哨报到: call the street office in on a case (cross-department, or running late) — its WeChat group and
        robot told why, the move recorded with why and who was notified, all in one transaction, and audited. The
        status stays and the resident is not told (the street office coordinating is no step of theirs). With once
        (the deadline job), a case escalated before is left alone: None."""
        reason = one_line(mask_personal_data(reason), limit=_REASON_CHARS)
        if not reason:
            raise ReasonRequiredError(f"吹哨要写明原因，比如“{number} 吹哨：需要城管和住建一起处理”")
        petition = self._store.get(number)
        if petition is None:
            raise PetitionNotFoundError(f"没有找到编号为 {number} 的诉求")
        notices = self._routing.escalated(petition, reason, by=actor.name) if self._routing is not None else None
        if notices is None or not notices.messages:
            raise EscalationTargetMissingError(
                "还没有设置街道（吹哨对象）：请在控制台“派单设置”里添加街道，填上它的微信群或企业微信机器人"
            )
        note = f"{reason}；已通知：{notices.said}"
        now = self._clock.now()
        try:
            escalated = self._store.escalate(
                petition.id, actor=actor.name, at=now, note=note, messages=notices.messages, once=once
            )
        except TransitionNotAllowed as refused:
            raise _refusal(number, refused, PetitionEvent.ESCALATE) from refused
        if escalated is not None:
            detail = f"{PetitionEvent.ESCALATE.label}：{note}"
            self._audit.record_as(actor, "petition_moved", target=number, detail=detail)
        return escalated

    def close_unanswered(self) -> list[Petition]:
        """Close the cases resolved more than close_after ago that the resident never answered (the scheduled job);
        a case moved meanwhile by someone else is left as it is."""
        cutoff = self._clock.now() - self._close_after
        closed = []
        for petition in self._store.resolved_before(cutoff, limit=500):
            note = f"办结后{self._days}天未收到居民回复，自动关闭"
            try:
                closed.append(self.move(petition.number, PetitionEvent.EXPIRE, actor=ASSISTANT, note=note))
            except PetitionMoveRefused:
                continue
        return closed

    @property
    def _days(self) -> int:
        return max(1, round(self._close_after / timedelta(days=1)))

    def _quoted(self, petition: Petition, limit: int, instead: str, *, before: str = "", then: str = "") -> str:
        """The resident's words, shortened and quoted (between before and then), as replies repeat them; instead
        when they hold a word of the sensitive-word list (a resident may report gambling in the building; the
        assistant never repeats the word)."""
        if self._sensitive is not None and self._sensitive.find(petition.description):
            return instead
        return f"{before}“{excerpt(petition.description, limit)}”{then}"

    def _told_privately(self, petition: Petition) -> bool:
        """Whether the resident hears of this case only privately: a sensitive category, or filed in private."""
        return petition.category in self._private or not petition.reporter.group_id

    def _notice(self, petition: Petition, event: PetitionEvent, note: str) -> str:
        """What the resident is told of a move."""
        subject = f"您反映的{self._quoted(petition, 20, '事')}（编号 {petition.number}）"
        said = f"：{note}" if note else ""
        return {
            PetitionEvent.ACCEPT: f"{subject}已受理，我们会尽快安排处理。",
            PetitionEvent.DISPATCH: f"{subject}已派给相关部门处理。",
            PetitionEvent.START: f"{subject}正在处理中。",
            PetitionEvent.RESOLVE: (
                f"{RATE_PROMPT}\n{subject}已办结{said}。如果问题还没解决，请告诉社区工作人员；{self._days}天内没有回音将自动关闭。"
            ),
            PetitionEvent.CLOSE: f"{subject}已关闭，感谢您的反映。",
            PetitionEvent.EXPIRE: f"{subject}办结后{self._days}天没有收到您的回音，已自动关闭，感谢您的反映。",
            PetitionEvent.REJECT: f"{subject}不予受理，原因{said}。",
            PetitionEvent.MERGE: f"{subject}已与同类诉求合并办理{said}，进展会一并告诉您。",
            PetitionEvent.REOPEN: f"{subject}已重新办理，我们会尽快处理。",
            PetitionEvent.NOTE: f"{subject}有新进展{said}。",
        }[event]

    def _staff_notice(self, text: str) -> list[OutboundMessage]:
        """A message for the staff group, if there is one."""
        if not self._staff_group_id:
            return []
        return [OutboundMessage(self._staff_channel, text, group_id=self._staff_group_id)]

    def _local(self, at: datetime) -> datetime:
        return at + self._utc_offset

    def _day(self, at: datetime) -> str:
        local = self._local(at)
        return f"{local.month}月{local.day}日"


def _filed_text(petition: Petition) -> str:
    """The reply that tells the resident their case's number (and asks where it is when they did not say)."""
    text = f"已登记您的诉求，编号 {petition.number}。我们会尽快处理，发“查询 {petition.number}”可以看进展。"
    return text if petition.location else f"{text}{LOCATION_QUESTION}"


def _staff_filed_text(petition: Petition, routed_to: str = "", due: str = "") -> str:
    """What the staff group is told of a new case (its deadline, who it goes to by default), with the replies that
    move it."""
    reporter, number = petition.reporter, petition.number
    where = f"“{reporter.group_name or reporter.group_id}”群" if reporter.group_id else "私聊"
    if reporter.channel == PAGE_CHANNEL:
        where = "门牌码扫码页面"
    elif not reporter.reachable:  # filed by an outside system through Open311; group_name is the system's
        where = f"“{reporter.group_name}”转来"
    details = "，".join(
        part
        for part in (
            petition.category,
            f"地点：{petition.location}" if petition.location else "",
            petition.urgency.label if petition.urgency is Urgency.URGENT else "",
            due,
        )
        if part
    )
    dispatch = f"“{number} 派单”派给{routed_to}（或“{number} 派单 部门”）" if routed_to else f"“{number} 派单 部门”派单"
    return (
        f"【诉求 {number}】{where}的居民反映：{petition.description}（{details}）\n"
        f"回复“{number} 受理”受理；{dispatch}；“{number} 办结：说明”办结；"
        f"“{number} 不予受理：原因”不予受理；“{number} 合并 编号”合并；“{number} 吹哨：原因”请街道协调。"
    )


def _refusal(number: str, refused: TransitionNotAllowed, event: PetitionEvent) -> AssistantError:
    """The workflow's refusal, worded with the case's number (staff know cases by number, not by database id)."""
    status = PETITION_WORKFLOW.status_of(refused.status) if refused.status else None
    if status is None:
        return PetitionNotFoundError(f"没有找到编号为 {number} 的诉求")
    return PetitionMoveRefused(
        f"诉求 {number} 现在是“{status.label}”，不能{event.label}",
        entity_id=refused.entity_id,
        status=refused.status,
        event=event,
    )


def masked_text(text: str, limit: int) -> str:
    """text with personal numbers masked, at most limit characters."""
    masked = mask_personal_data(text.strip())
    return masked if len(masked) <= limit else masked[: limit - 1] + "…"
