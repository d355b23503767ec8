"""Repository of conversation turns."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.conversation import ActivityScope, ConversationTurn
from bot.storage.models import ConversationTurnRow, GroupConfigRow

_FIELDS = [field.name for field in dataclasses.fields(ConversationTurn)]


class SqlTurnLog:
    """Conversation turns in the database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, turn: ConversationTurn) -> None:
        """Store one turn."""
        values = {name: getattr(turn, name) for name in _FIELDS}
        with self._sessions.begin() as session:
            session.add(ConversationTurnRow(**{**values, "sources": list(turn.sources)}))

    def recent(self, limit: int) -> Sequence[ConversationTurn]:
        """The newest turns, newest first."""
        with self._sessions() as session:
            newest_first = (ConversationTurnRow.at.desc(), ConversationTurnRow.id.desc())
            rows = session.scalars(select(ConversationTurnRow).order_by(*newest_first).limit(limit))
            return [
                ConversationTurn(**{**{name: getattr(row, name) for name in _FIELDS}, "sources": tuple(row.sources)})
                for row in rows
            ]

    def last_question(self, *, group_id: str, user_id: str, since: datetime) -> str | None:
        """The newest question one resident asked in one group (or privately) since a time, small talk aside."""
        query = (
            select(ConversationTurnRow.question)
            .where(
                ConversationTurnRow.group_id == group_id,
                ConversationTurnRow.user_id == user_id,
                ConversationTurnRow.at >= since,
                ConversationTurnRow.reason.not_like("small_talk%"),
            )
            .order_by(ConversationTurnRow.at.desc(), ConversationTurnRow.id.desc())
            .limit(1)
        )
        with self._sessions() as session:
            return session.scalar(query)

    def count_answered(self, start: datetime, end: datetime, scope: ActivityScope) -> tuple[int, int]:
        """(answered, not answered) turns in [start, end)."""
        query = select(ConversationTurnRow.answered, func.count()).where(
            ConversationTurnRow.at >= start, ConversationTurnRow.at < end, *_scoped(scope)
        )
        with self._sessions() as session:
            counts = dict(session.execute(query.group_by(ConversationTurnRow.answered)).all())
        return int(counts.get(True, 0)), int(counts.get(False, 0))

    def busiest_groups(self, since: datetime, scope: ActivityScope, *, limit: int) -> list[tuple[str, int]]:
        """Group ids ("" for private chats) with the most turns since a time."""
        count = func.count().label("turns")
        query = (
            select(ConversationTurnRow.group_id, count)
            .where(ConversationTurnRow.at >= since, *_scoped(scope))
            .group_by(ConversationTurnRow.group_id)
            .order_by(count.desc(), ConversationTurnRow.group_id)
            .limit(limit)
        )
        with self._sessions() as session:
            return [(group_id, int(n)) for group_id, n in session.execute(query)]

    def most_answered_entries(self, since: datetime, scope: ActivityScope, *, limit: int) -> list[tuple[str, int]]:
        """Knowledge entries most often cited first in answers since a time."""
        entry = ConversationTurnRow.sources[0].as_string()
        count = func.count().label("turns")
        query = (
            select(entry, count)
            .where(ConversationTurnRow.at >= since, ConversationTurnRow.answered.is_(True), *_scoped(scope))
            .group_by(entry)
            .order_by(count.desc(), entry)
            .limit(limit)
        )
        with self._sessions() as session:
            return [(entry_id, int(n)) for entry_id, n in session.execute(query) if entry_id]


def _scoped(scope: ActivityScope) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if scope.exclude_channels:
        conditions.append(ConversationTurnRow.channel.not_in(scope.exclude_channels))
    if scope.community is not None:
        in_community = ConversationTurnRow.group_id.in_(
            select(GroupConfigRow.group_id).where(GroupConfigRow.community == scope.community)
        )
        private = ConversationTurnRow.group_id == ""
        conditions.append(or_(in_community, private) if scope.includes_private else in_community)
    return conditions
