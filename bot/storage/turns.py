"""Repository of conversation turns."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.conversation import ConversationTurn
from bot.storage.models import ConversationTurnRow

_FIELDS = [field.name for field in dataclasses.fields(ConversationTurn)]


@dataclasses.dataclass(frozen=True, slots=True)
class TurnActivity:
    """What the dashboard counts of one turn."""

    at: datetime
    group_id: str
    answered: bool
    first_source: str


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

    def activity_since(self, since: datetime, *, exclude_channels: tuple[str, ...] = ()) -> list[TurnActivity]:
        """Every turn since a time (but those of the excluded channels), oldest first."""
        query = select(
            ConversationTurnRow.at,
            ConversationTurnRow.group_id,
            ConversationTurnRow.answered,
            ConversationTurnRow.sources,
        ).where(ConversationTurnRow.at >= since)
        if exclude_channels:
            query = query.where(ConversationTurnRow.channel.not_in(exclude_channels))
        with self._sessions() as session:
            rows = session.execute(query.order_by(ConversationTurnRow.at)).all()
            return [
                TurnActivity(at, group_id, answered, sources[0] if sources else "")
                for at, group_id, answered, sources in rows
            ]
