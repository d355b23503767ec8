"""Repository of conversation turns."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.conversation import ConversationTurn
from bot.storage.models import ConversationTurnRow

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
