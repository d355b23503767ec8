"""Repository of unanswered questions; answering or closing one is a QUESTION_WORKFLOW move that queues the replies
and records the move in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.escalation import (
    QUESTION_WORKFLOW,
    Asker,
    EmbeddingRow,
    QuestionEvent,
    QuestionNotOpenError,
    QuestionStatus,
    UnansweredQuestion,
)
from bot.domain.messages import OutboundMessage
from bot.storage.models import UnansweredAskerRow, UnansweredQuestionRow
from bot.storage.workflow import apply_transition


class SqlUnansweredQuestions:
    """Unanswered questions and their askers."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(
        self,
        *,
        question: str,
        asker: Asker,
        urgent: bool,
        reason: str,
        candidates: Sequence[str],
        now: datetime,
        community: str = "",
        vector: bytes | None = None,
        vector_model: str = "",
    ) -> UnansweredQuestion:
        """A new open question with its first asker (and its embedding, for finding near-duplicates later)."""
        with self._sessions.begin() as session:
            row = UnansweredQuestionRow(
                vector=vector,
                vector_model=vector_model if vector is not None else "",
                question=question,
                status=QuestionStatus.OPEN.value,
                urgent=urgent,
                reason=reason,
                candidates=list(candidates),
                community=community,
                created_at=now,
                answer="",
                answered_by="",
                answered_at=None,
                reminded_at=None,
            )
            session.add(row)
            session.flush()
            session.add(_asker_row(row.id, asker))
            return _question(session, row)

    def join(self, question_id: int, asker: Asker, *, urgent: bool) -> UnansweredQuestion:
        """Another resident asks the same open question (an urgent request makes it urgent)."""
        with self._sessions.begin() as session:
            row = session.get(UnansweredQuestionRow, question_id)
            if row is None or row.status != QuestionStatus.OPEN.value:
                status = row.status if row is not None else None
                raise QuestionNotOpenError(f"没有待答的问题 #{question_id}", entity_id=question_id, status=status)
            row.urgent = row.urgent or urgent
            session.add(_asker_row(question_id, asker))
            return _question(session, row)

    def asked_by(self, origin: str) -> UnansweredQuestion | None:
        """The question an inbound message (part) already asked or joined, if it did."""
        with self._sessions() as session:
            question_id = session.scalar(
                select(UnansweredAskerRow.question_id).where(UnansweredAskerRow.origin == origin)
            )
            row = session.get(UnansweredQuestionRow, question_id) if question_id is not None else None
            return _question(session, row) if row is not None else None

    def open_questions(self) -> list[UnansweredQuestion]:
        """Every open question, urgent first, then oldest first."""
        return self.listed(community=None, status=QuestionStatus.OPEN, limit=None)

    def open_numbers(self, *, community: str) -> list[int]:
        """The numbers of one community's open questions, oldest first."""
        query = (
            select(UnansweredQuestionRow.id)
            .where(
                UnansweredQuestionRow.status == QuestionStatus.OPEN.value,
                UnansweredQuestionRow.community == community,
            )
            .order_by(UnansweredQuestionRow.id)
        )
        with self._sessions() as session:
            return list(session.scalars(query))

    def queued_after(self, number: int, *, model: str, limit: int) -> list[EmbeddingRow]:
        """The embedding rows of open questions numbered after number, oldest first."""
        where = (UnansweredQuestionRow.id > number, UnansweredQuestionRow.status == QuestionStatus.OPEN.value)
        with self._sessions() as session:
            return _embedding_rows(session, *where, model=model, limit=limit)

    def vectors(self, numbers: Sequence[int], *, model: str) -> list[EmbeddingRow]:
        """The embedding rows of the given questions."""
        found: list[EmbeddingRow] = []
        with self._sessions() as session:
            for start in range(0, len(numbers), 500):  # bounded IN lists for every database
                chunk = list(numbers[start : start + 500])
                found += _embedding_rows(session, UnansweredQuestionRow.id.in_(chunk), model=model, limit=None)
        return found

    def keep_vectors(self, vectors: Mapping[int, bytes], *, model: str) -> None:
        """Store embeddings made later for questions queued without one (or by another model)."""
        with self._sessions.begin() as session:
            for number, vector in vectors.items():
                row = session.get(UnansweredQuestionRow, number)
                if row is not None:
                    row.vector, row.vector_model = vector, model

    def listed(self, *, community: str | None, status: QuestionStatus, limit: int | None) -> list[UnansweredQuestion]:
        """Questions in one status, only one community's if given: open urgent-then-oldest, answered newest first."""
        query = select(UnansweredQuestionRow).where(UnansweredQuestionRow.status == status.value)
        if community is not None:
            query = query.where(UnansweredQuestionRow.community == community)
        if status is QuestionStatus.OPEN:
            query = query.order_by(UnansweredQuestionRow.urgent.desc(), UnansweredQuestionRow.created_at)
        else:
            query = query.order_by(UnansweredQuestionRow.answered_at.desc(), UnansweredQuestionRow.id.desc())
        with self._sessions() as session:
            return _questions(session, session.scalars(query.limit(limit)).all())

    def count(self, *, community: str | None, status: QuestionStatus) -> int:
        """How many questions are in one status (only one community's if given)."""
        query = select(func.count()).where(UnansweredQuestionRow.status == status.value)
        if community is not None:
            query = query.where(UnansweredQuestionRow.community == community)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def due_for_reminder(self, *, now: datetime, older_than: timedelta) -> list[UnansweredQuestion]:
        """Open questions created (or last reminded) more than older_than ago; marks them reminded now."""
        cutoff = now - older_than
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(UnansweredQuestionRow).where(
                    UnansweredQuestionRow.status == QuestionStatus.OPEN.value,
                    UnansweredQuestionRow.created_at <= cutoff,
                    (UnansweredQuestionRow.reminded_at.is_(None)) | (UnansweredQuestionRow.reminded_at <= cutoff),
                )
            ).all()
            for row in rows:
                row.reminded_at = now
            return _questions(session, rows)

    def get(self, question_id: int) -> UnansweredQuestion | None:
        """One question by its number."""
        with self._sessions() as session:
            row = session.get(UnansweredQuestionRow, question_id)
            return _question(session, row) if row is not None else None

    def answer(
        self,
        question_id: int,
        *,
        answer: str,
        by: str,
        now: datetime,
        replies: Sequence[OutboundMessage],
    ) -> UnansweredQuestion:
        """Mark an open question answered and queue the replies to its askers, atomically."""
        return self._settle(question_id, QuestionEvent.ANSWER, text=answer, by=by, now=now, replies=replies)

    def close(
        self, question_id: int, *, note: str, by: str, now: datetime, replies: Sequence[OutboundMessage] = ()
    ) -> UnansweredQuestion:
        """Take an open question off the queue without answering it, keeping why (and queue the notices given)."""
        return self._settle(question_id, QuestionEvent.CLOSE, text=note, by=by, now=now, replies=replies)

    def _settle(
        self,
        question_id: int,
        event: QuestionEvent,
        *,
        text: str,
        by: str,
        now: datetime,
        replies: Sequence[OutboundMessage],
    ) -> UnansweredQuestion:
        """Apply event as QUESTION_WORKFLOW allows (QuestionNotOpenError otherwise), keeping text, who and when."""
        with self._sessions.begin() as session:
            apply_transition(
                session,
                QUESTION_WORKFLOW,
                UnansweredQuestionRow,
                question_id,
                event,
                actor=by,
                at=now,
                note=text,
                values={"answer": text, "answered_by": by, "answered_at": now},
                messages=replies,
            )
            return _question(session, session.get_one(UnansweredQuestionRow, question_id))


def _embedding_rows(session: Session, *where: ColumnElement[bool], model: str, limit: int | None) -> list[EmbeddingRow]:
    """What near-duplicate matching reads of the questions matching where, by number."""
    query = (
        select(
            UnansweredQuestionRow.id,
            UnansweredQuestionRow.community,
            UnansweredQuestionRow.question,
            UnansweredQuestionRow.vector,
            UnansweredQuestionRow.vector_model,
        )
        .where(*where)
        .order_by(UnansweredQuestionRow.id)
        .limit(limit)
    )
    return [(n, c, q, v if m == model else None) for n, c, q, v, m in session.execute(query)]


def _asker_row(question_id: int, asker: Asker) -> UnansweredAskerRow:
    return UnansweredAskerRow(
        question_id=question_id,
        channel=asker.channel,
        group_id=asker.group_id,
        user_id=asker.user_id,
        text=asker.text,
        asked_at=asker.asked_at,
        origin=asker.origin or None,
    )


def _question(session: Session, row: UnansweredQuestionRow) -> UnansweredQuestion:
    return _questions(session, [row])[0]


def _questions(session: Session, rows: Sequence[UnansweredQuestionRow]) -> list[UnansweredQuestion]:
    """Questions with their askers, loaded in one query for all of them."""
    askers: dict[int, list[Asker]] = {row.id: [] for row in rows}
    if askers:
        for a in session.scalars(
            select(UnansweredAskerRow)
            .where(UnansweredAskerRow.question_id.in_(list(askers)))
            .order_by(UnansweredAskerRow.id)
        ):
            askers[a.question_id].append(Asker(a.channel, a.group_id, a.user_id, a.text, a.asked_at))
    return [
        UnansweredQuestion(
            id=row.id,
            question=row.question,
            status=QuestionStatus(row.status),
            urgent=row.urgent,
            reason=row.reason,
            candidates=tuple(row.candidates),
            created_at=row.created_at,
            askers=tuple(askers[row.id]),
            answer=row.answer,
            answered_by=row.answered_by,
            answered_at=row.answered_at,
            community=row.community,
        )
        for row in rows
    ]
