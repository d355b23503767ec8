"""Repository of petitions (诉求): filing a case (its number taken from a per-year counter, the inbound message
marked handled and the reply queued, all in one transaction), complaints awaiting confirmation, and moves through
PETITION_WORKFLOW that queue the resident's notices in the same transaction."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.messages import OutboundMessage
from bot.domain.open311 import CaseMove, ExternalUpdate, UpdateAlreadyRecorded
from bot.domain.petitions import (
    PETITION_WORKFLOW,
    BoardFilter,
    Filing,
    Petition,
    PetitionDraft,
    PetitionEvent,
    PetitionStatus,
    Rating,
    Receipt,
    RepliesFor,
    Reporter,
    Urgency,
    case_number,
)
from bot.domain.photos import Photo, PhotoRefusedError
from bot.domain.routing import Route
from bot.domain.workflow import Transition
from bot.storage.channel import mark_handled, queue_once, queued_row
from bot.storage.models import (
    GroupConfigRow,
    Open311UpdateRow,
    PendingPetitionPhotoRow,
    PendingPetitionRow,
    PetitionCounterRow,
    PetitionRow,
    ProcessedMessageRow,
    WorkflowTransitionRow,
)
from bot.storage.routing import route_in_force
from bot.storage.workflow import SqlTransitions, apply_transition, recorded_transition

# Filing is tried again this often when a concurrent one got in its way (the first case of a year, the same origin).
_FILING_ATTEMPTS = 5
_SETTLED = tuple(status.value for status in PetitionStatus if status.settled)


class SqlPetitions:
    """Petition cases, their per-year number counters, and complaints waiting for the resident's confirmation."""

    def __init__(self, sessions: sessionmaker[Session], *, default_community: str = "") -> None:
        """default_community is the community of a case filed in private or in a group not registered (as the
        group settings say)."""
        self._sessions = sessions
        self._default_community = default_community
        self._transitions = SqlTransitions(sessions)

    def file(
        self,
        draft: PetitionDraft,
        *,
        year: int,
        now: datetime,
        receipt: Receipt | None = None,
        replies: RepliesFor | None = None,
        notices: RepliesFor | None = None,
        route: Route | None = None,
    ) -> Filing:
        """Store draft as a new case numbered in year, or find the case its origin already made; with a receipt,
        mark that inbound message handled and queue replies(case) to it; queue notices(case) (the staff group's)
        for a new case only, keyed by the case; and drop the draft's pending confirmation, all in one transaction. A
        case filed without a location is marked as asked for it (once, in the reply). A new case is due by its
        category's deadline (the route staff set, read in this transaction, else route, the file's default; none
        without either).

        The number comes from the year's counter row, raised by an UPDATE in this transaction: PostgreSQL holds the
        row locked until commit and SQLite writes one transaction at a time, so two filers never take the same
        number; the first case of a year inserts the row, and of two such inserts the loser tries again."""
        for _ in range(_FILING_ATTEMPTS):
            try:
                with self._sessions.begin() as session:
                    return self._file(
                        session,
                        draft,
                        year=year,
                        now=now,
                        receipt=receipt,
                        replies=replies,
                        notices=notices,
                        route=route,
                    )
            except IntegrityError:
                if receipt is not None and self._handled(receipt.message_id):  # another delivery got there first
                    return Filing(self.by_origin(draft.origin), (), recorded=False)
        raise RuntimeError(f"could not file the petition of message {draft.origin}")

    def _file(
        self,
        session: Session,
        draft: PetitionDraft,
        *,
        year: int,
        now: datetime,
        receipt: Receipt | None,
        replies: RepliesFor | None,
        notices: RepliesFor | None,
        route: Route | None,
    ) -> Filing:
        row = session.scalars(select(PetitionRow).where(PetitionRow.origin == draft.origin)).one_or_none()
        created = row is None
        if row is None:
            row = _new_row(draft, _next_number(session, year), now)
            if route is not None:
                row.due_at = now + route_in_force(session, route).deadline(draft.urgency)
            session.add(row)
            session.flush()
        _forget_pending(session, PendingPetitionRow.origin == draft.origin)
        petition = _petition(row)
        queued = tuple(replies(petition)) if replies is not None else ()
        if receipt is not None:
            mark_handled(session, receipt.message_id, queued, now=now, outcome=receipt.outcome)
        if created and notices is not None:
            source = f"{PETITION_WORKFLOW.kind}:{row.id}"
            for n, notice in enumerate(notices(petition)):
                session.add(queued_row(notice, now, source=source, dedupe_key=f"{source}:filed:{n}"))
        return Filing(petition, queued, recorded=receipt is not None, created=created)

    def _handled(self, message_id: str) -> bool:
        with self._sessions() as session:
            return session.get(ProcessedMessageRow, message_id) is not None

    def get(self, number: str) -> Petition | None:
        """One case by its number."""
        with self._sessions() as session:
            row = session.scalars(select(PetitionRow).where(PetitionRow.number == number)).one_or_none()
            return _petition(row) if row is not None else None

    def by_origin(self, origin: str) -> Petition | None:
        """The case an inbound message made, if any."""
        with self._sessions() as session:
            row = session.scalars(select(PetitionRow).where(PetitionRow.origin == origin)).one_or_none()
            return _petition(row) if row is not None else None

    def of_reporter(
        self, channel: str, user_id: str, *, group_id: str | None, open_only: bool, limit: int
    ) -> list[Petition]:
        """One resident's cases (only those filed in group_id if given; only unsettled ones if open_only), newest
        first."""
        query = select(PetitionRow).where(PetitionRow.channel == channel, PetitionRow.user_id == user_id)
        if group_id is not None:
            query = query.where(PetitionRow.group_id == group_id)
        if open_only:
            query = query.where(PetitionRow.status.not_in(_SETTLED))
        query = query.order_by(PetitionRow.created_at.desc(), PetitionRow.id.desc()).limit(limit)
        with self._sessions() as session:
            return [_petition(row) for row in session.scalars(query)]

    def move(
        self,
        petition_id: int,
        event: PetitionEvent,
        *,
        actor: str,
        at: datetime,
        note: str = "",
        values: Mapping[str, Any] | None = None,
        messages: Sequence[OutboundMessage] = (),
        receipt: Receipt | None = None,
        external: ExternalUpdate | None = None,
    ) -> Petition:
        """Apply event as PETITION_WORKFLOW allows (PetitionMoveRefused otherwise), recording the move, queueing
        messages and marking the receipt's inbound message handled in the same transaction; the case as it is
        afterwards. Two deliveries of one message meet at the status compare-and-set: the second is refused. An
        outside system's update is kept with the move it made, in the same transaction: UpdateAlreadyRecorded (and
        nothing done) when it was recorded before."""
        try:
            with self._sessions.begin() as session:
                moved = apply_transition(
                    session,
                    PETITION_WORKFLOW,
                    PetitionRow,
                    petition_id,
                    event,
                    actor=actor,
                    at=at,
                    note=note,
                    values=values,
                    messages=messages,
                )
                if receipt is not None:
                    mark_handled(session, receipt.message_id, (), now=at, outcome=receipt.outcome)
                if external is not None:
                    session.add(
                        Open311UpdateRow(
                            api_key_id=external.api_key_id,
                            update_id=external.update_id,
                            transition_id=moved.id,
                            created_at=at,
                        )
                    )
                    session.flush()
                row = session.get(PetitionRow, petition_id, populate_existing=True)
                assert row is not None  # the move just found it
                return _petition(row)
        except IntegrityError:
            if external is None:
                raise
            raise UpdateAlreadyRecorded(f"更新 {external.update_id} 已经记录过") from None

    def recorded_update(self, update: ExternalUpdate) -> int | None:
        """The number of the move an outside system's update made, if it was recorded."""
        query = select(Open311UpdateRow.transition_id).where(
            Open311UpdateRow.api_key_id == update.api_key_id, Open311UpdateRow.update_id == update.update_id
        )
        with self._sessions() as session:
            return session.scalar(query)

    def escalate(
        self,
        petition_id: int,
        *,
        actor: str,
        at: datetime,
        note: str,
        messages: Sequence[OutboundMessage],
        once: bool = False,
    ) -> Petition | None:
        """Record an escalation (吹哨: the status stays, the move noted with why and who was told), mark the case
        escalated and queue messages, in one transaction (PetitionMoveRefused if its status does not allow it). With
        once, only a case never escalated before: None, nothing done, for one that was (also when two runs race,
        the first to mark it wins)."""
        with self._sessions.begin() as session:
            if once:
                marked = session.execute(
                    update(PetitionRow)
                    .where(PetitionRow.id == petition_id, PetitionRow.escalated_at.is_(None))
                    .values(escalated_at=at)
                    .execution_options(synchronize_session=False)
                )
                if not getattr(marked, "rowcount", 0):
                    return None
            apply_transition(
                session,
                PETITION_WORKFLOW,
                PetitionRow,
                petition_id,
                PetitionEvent.ESCALATE,
                actor=actor,
                at=at,
                note=note,
                values={"escalated_at": at, "updated_at": at, "note": note},
                messages=messages,
            )
            row = session.get(PetitionRow, petition_id, populate_existing=True)
            assert row is not None  # the move just found it
            return _petition(row)

    def remind(self, petition_id: int, key: str, *, at: datetime, messages: Sequence[OutboundMessage]) -> bool:
        """Send a deadline reminder for a case once: keep key ("overdue:2026-11-28") as its last reminder and queue
        messages, in one transaction; False, nothing queued, when that reminder was the last one already."""
        source = f"{PETITION_WORKFLOW.kind}:{petition_id}"
        claim = (
            update(PetitionRow)
            .where(PetitionRow.id == petition_id, PetitionRow.last_reminder != key)
            .values(last_reminder=key[:32])
        )
        return queue_once(self._sessions, claim, messages, at=at, source=source, dedupe_prefix=f"{source}:remind:{key}")

    def due_before(self, cutoff: datetime, *, limit: int) -> list[Petition]:
        """Cases still running (not resolved or settled) whose deadline is before cutoff, the earliest first."""
        done = [status.value for status in PetitionStatus if status.done]
        query = (
            select(PetitionRow)
            .where(PetitionRow.due_at < cutoff, PetitionRow.status.not_in(done))
            .order_by(PetitionRow.due_at, PetitionRow.id)
            .limit(limit)
        )
        with self._sessions() as session:
            return [_petition(row) for row in session.scalars(query)]

    def board(self, shown: BoardFilter, *, offset: int, limit: int) -> list[Petition]:
        """The cases shown matches (its status too), newest first."""
        statuses = (shown.status,) if shown.status is not None else ()
        return self.matching(shown, statuses=statuses, offset=offset, limit=limit)

    def counts(self, shown: BoardFilter) -> dict[PetitionStatus, int]:
        """How many cases shown matches in each status (its own status ignored); statuses without any left out."""
        query = self._filtered(select(PetitionRow.status, func.count()), shown).group_by(PetitionRow.status)
        with self._sessions() as session:
            return {PetitionStatus(status): int(n) for status, n in session.execute(query)}

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
        """The cases shown matches (its status ignored), narrowed to the numbers, statuses and filing times given
        (each only when given), newest first."""
        query = self._filtered(select(PetitionRow), shown)
        if numbers:
            query = query.where(PetitionRow.number.in_(list(numbers)))
        if statuses:
            query = query.where(PetitionRow.status.in_([s.value for s in statuses]))
        if created_from is not None:
            query = query.where(PetitionRow.created_at >= created_from)
        if created_until is not None:
            query = query.where(PetitionRow.created_at <= created_until)
        query = query.order_by(PetitionRow.created_at.desc(), PetitionRow.id.desc()).offset(offset).limit(limit)
        with self._sessions() as session:
            return [_petition(row) for row in session.scalars(query)]

    def moves_since(
        self, shown: BoardFilter, *, since: datetime, until: datetime | None = None, limit: int
    ) -> list[CaseMove]:
        """The recorded moves of the cases shown matches (its status ignored) made after since (and up to until),
        oldest first, each with its case as it is now."""
        query = self._filtered(
            select(WorkflowTransitionRow, PetitionRow).join(
                PetitionRow,
                (WorkflowTransitionRow.entity_id == PetitionRow.id)
                & (WorkflowTransitionRow.kind == PETITION_WORKFLOW.kind),
            ),
            shown,
        ).where(WorkflowTransitionRow.at > since)
        if until is not None:
            query = query.where(WorkflowTransitionRow.at <= until)
        query = query.order_by(WorkflowTransitionRow.at, WorkflowTransitionRow.id).limit(limit)
        with self._sessions() as session:
            return [CaseMove(recorded_transition(move), _petition(case)) for move, case in session.execute(query)]

    def history(self, petition_id: int) -> list[Transition]:
        """Every move of one case, oldest first."""
        return self._transitions.transitions(PETITION_WORKFLOW.kind, petition_id)

    def _filtered(self, query: Any, shown: BoardFilter) -> Any:
        """query narrowed to shown's category, community (through the reporting group) and department."""
        if shown.category:
            query = query.where(PetitionRow.category == shown.category)
        if shown.overdue_at is not None:
            done = [status.value for status in PetitionStatus if status.done]
            query = query.where(PetitionRow.due_at < shown.overdue_at, PetitionRow.status.not_in(done))
        if shown.department is not None:
            query = query.where(PetitionRow.department == shown.department, PetitionRow.department != "")
        if shown.escalated:
            query = query.where(PetitionRow.escalated_at.is_not(None))
        if shown.community is not None:
            # A case filed from a 门牌码 or through Open311 carries its community; the others take their group's: the
            # community's groups first, then their cases through ix_petitions_group_status (an outer join on every
            # case scanned all of them: 76 ms against 2 ms for one community's counts among 50,000 cases).
            registered = select(GroupConfigRow.group_id)
            of_groups: Any = PetitionRow.group_id.in_(registered.where(GroupConfigRow.community == shown.community))
            if shown.community == self._default_community:  # private chats and groups never registered
                of_groups = of_groups | PetitionRow.group_id.not_in(registered)
            query = query.where(
                (PetitionRow.community == shown.community) | ((PetitionRow.community == "") & of_groups)
            )
        return query

    def resolved_before(self, cutoff: datetime, *, limit: int) -> list[Petition]:
        """Cases resolved before cutoff and still waiting for the resident's answer, oldest first."""
        query = (
            select(PetitionRow)
            .where(PetitionRow.status == PetitionStatus.RESOLVED.value, PetitionRow.resolved_at < cutoff)
            .order_by(PetitionRow.resolved_at, PetitionRow.id)
            .limit(limit)
        )
        with self._sessions() as session:
            return [_petition(row) for row in session.scalars(query)]

    def hold(
        self,
        draft: PetitionDraft,
        *,
        now: datetime,
        expires_at: datetime,
        receipt: Receipt,
        replies: Sequence[OutboundMessage],
    ) -> bool:
        """Keep draft until the resident confirms it (replacing one they had not answered), mark the inbound message
        handled and queue replies, in one transaction; False if another delivery of it was handled first."""
        reporter = draft.reporter
        try:
            with self._sessions.begin() as session:
                _forget_pending(
                    session,
                    _pending_of(reporter.channel, reporter.group_id, reporter.user_id)
                    | (PendingPetitionRow.expires_at <= now),
                )
                session.add(_pending_row(draft, now, expires_at))
                mark_handled(session, receipt.message_id, replies, now=now, outcome=receipt.outcome)
        except IntegrityError:
            return False
        return True

    def pending(self, channel: str, group_id: str, user_id: str, *, now: datetime) -> PetitionDraft | None:
        """The complaint this resident (in this group) was asked to confirm, unless it has expired."""
        query = select(PendingPetitionRow).where(
            _pending_of(channel, group_id, user_id), PendingPetitionRow.expires_at > now
        )
        with self._sessions() as session:
            row = session.scalars(query).one_or_none()
            return _draft(row) if row is not None else None

    def drop_pending(self, channel: str, group_id: str, user_id: str) -> bool:
        """Forget the complaint this resident was asked to confirm; False if there was none."""
        with self._sessions.begin() as session:
            return _forget_pending(session, _pending_of(channel, group_id, user_id))

    def hold_photo(
        self, draft: PetitionDraft, photo: Photo, content: bytes, *, now: datetime, limit: int
    ) -> int | None:
        """Keep a picture with the complaint draft waiting for confirmation: its place among the draft's pictures
        (the same picture twice is kept once); None when the draft is no longer waiting; PhotoRefusedError when it
        has limit pictures already."""
        with self._sessions.begin() as session:
            waiting = session.scalar(
                select(PendingPetitionRow.id).where(
                    PendingPetitionRow.origin == draft.origin, PendingPetitionRow.expires_at > now
                )
            )
            if waiting is None:
                return None
            kept = list(
                session.scalars(
                    select(PendingPetitionPhotoRow.sha256)
                    .where(PendingPetitionPhotoRow.origin == draft.origin)
                    .order_by(PendingPetitionPhotoRow.id)
                )
            )
            if photo.sha256 in kept:
                return kept.index(photo.sha256) + 1
            if len(kept) >= limit:
                raise PhotoRefusedError(f"这个诉求已经有 {limit} 张照片了，不能再加。")
            session.add(
                PendingPetitionPhotoRow(
                    origin=draft.origin,
                    sha256=photo.sha256,
                    content_type=photo.content_type,
                    size=photo.size,
                    width=photo.width,
                    height=photo.height,
                    content=content,
                    created_at=now,
                )
            )
            return len(kept) + 1

    def pending_photos(self, draft: PetitionDraft) -> list[tuple[Photo, bytes]]:
        """The pictures kept with a complaint draft, in the order they came."""
        query = (
            select(PendingPetitionPhotoRow)
            .where(PendingPetitionPhotoRow.origin == draft.origin)
            .order_by(PendingPetitionPhotoRow.id)
        )
        with self._sessions() as session:
            return [
                (Photo(r.sha256, r.content_type, r.size, r.width, r.height), r.content) for r in session.scalars(query)
            ]

    def awaiting_location(self, channel: str, group_id: str, user_id: str, *, since: datetime) -> Petition | None:
        """The resident's newest case filed in this group without a location whose question was asked since."""
        query = (
            select(PetitionRow)
            .where(
                PetitionRow.channel == channel,
                PetitionRow.group_id == group_id,
                PetitionRow.user_id == user_id,
                PetitionRow.location == "",
                PetitionRow.location_asked_at >= since,
                PetitionRow.status.not_in(_SETTLED),
            )
            .order_by(PetitionRow.location_asked_at.desc(), PetitionRow.id.desc())
            .limit(1)
        )
        with self._sessions() as session:
            row = session.scalars(query).one_or_none()
            return _petition(row) if row is not None else None

    def locate(
        self,
        petition_id: int,
        location: str,
        *,
        now: datetime,
        receipt: Receipt,
        replies: Sequence[OutboundMessage],
    ) -> bool:
        """Keep where the case is (only if it has no location yet), mark the inbound message handled and queue
        replies, in one transaction; False if another delivery of the message was handled first."""
        try:
            with self._sessions.begin() as session:
                session.execute(
                    update(PetitionRow)
                    .where(PetitionRow.id == petition_id, PetitionRow.location == "")
                    .values(location=location[:200], updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                mark_handled(session, receipt.message_id, replies, now=now, outcome=receipt.outcome)
        except IntegrityError:
            return False
        return True


def _next_number(session: Session, year: int) -> str:
    """Take the year's next case number in session's transaction (inserting the year's counter on its first case)."""
    taken = session.execute(
        update(PetitionCounterRow)
        .where(PetitionCounterRow.year == year)
        .values(last=PetitionCounterRow.last + 1)
        .returning(PetitionCounterRow.last)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if taken is None:
        session.add(PetitionCounterRow(year=year, last=1))
        session.flush()  # a concurrent first case of the year fails here, and is tried again
        taken = 1
    return case_number(year, int(taken))


def _pending_of(channel: str, group_id: str, user_id: str) -> Any:
    return (
        (PendingPetitionRow.channel == channel)
        & (PendingPetitionRow.group_id == group_id)
        & (PendingPetitionRow.user_id == user_id)
    )


def _draft_columns(draft: PetitionDraft) -> dict[str, Any]:
    """The columns a case and a complaint awaiting confirmation share: what, where, who reported it, how urgent."""
    reporter = draft.reporter
    return {
        "origin": draft.origin,
        "category": draft.category[:32],
        "description": draft.description,
        "location": draft.location[:200],
        "channel": reporter.channel,
        "group_id": reporter.group_id,
        "group_name": reporter.group_name,
        "user_id": reporter.user_id,
        "display_name": reporter.display_name,
        "urgency": draft.urgency.value,
    }


def _new_row(draft: PetitionDraft, number: str, now: datetime) -> PetitionRow:
    return PetitionRow(
        **_draft_columns(draft),
        number=number,
        status=PetitionStatus.SUBMITTED.value,
        created_at=now,
        updated_at=now,
        resolved_at=None,
        location_asked_at=None if draft.location else now,
        department="",
        handler="",
        rating="",
        note="",
        community=draft.community[:128],
    )


def _forget_pending(session: Session, which: Any) -> bool:
    """In the caller's transaction: drop the complaint drafts which selects, with their pictures; whether any was."""
    origins = select(PendingPetitionRow.origin).where(which)
    session.execute(delete(PendingPetitionPhotoRow).where(PendingPetitionPhotoRow.origin.in_(origins)))
    result = session.execute(delete(PendingPetitionRow).where(which))
    return bool(getattr(result, "rowcount", 0))


def _pending_row(draft: PetitionDraft, now: datetime, expires_at: datetime) -> PendingPetitionRow:
    return PendingPetitionRow(**_draft_columns(draft), created_at=now, expires_at=expires_at)


def _reporter(row: PetitionRow | PendingPetitionRow) -> Reporter:
    return Reporter(row.channel, row.group_id, row.group_name, row.user_id, row.display_name)


def _draft(row: PendingPetitionRow) -> PetitionDraft:
    return PetitionDraft(row.category, row.description, row.location, _reporter(row), Urgency(row.urgency), row.origin)


def _petition(row: PetitionRow) -> Petition:
    return Petition(
        id=row.id,
        number=row.number,
        category=row.category,
        description=row.description,
        location=row.location,
        reporter=_reporter(row),
        urgency=Urgency(row.urgency),
        status=PetitionStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        origin=row.origin,
        department=row.department,
        handler=row.handler,
        rating=Rating(row.rating) if row.rating else None,
        note=row.note,
        resolved_at=row.resolved_at,
        due_at=row.due_at,
        community=row.community,
        escalated_at=row.escalated_at,
    )
