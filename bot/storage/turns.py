"""Repository of conversation turns."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.conversation import ConversationTurn
from bot.storage.models import ConversationTurnRow


class SqlTurnLog:
    """Conversation turns in the database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, turn: ConversationTurn) -> None:
        """Store one turn."""
        with self._sessions.begin() as session:
            session.add(
                ConversationTurnRow(
                    at=turn.at,
                    channel=turn.channel,
                    group_id=turn.group_id,
                    user_id=turn.user_id,
                    question=turn.question,
                    reply=turn.reply,
                    answered=turn.answered,
                    reason=turn.reason,
                    score=turn.score,
                    sources=list(turn.sources),
                    mode=turn.mode,
                    latency_ms=turn.latency_ms,
                )
            )

    def recent(self, limit: int) -> Sequence[ConversationTurn]:
        """The newest turns, newest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(ConversationTurnRow)
                .order_by(ConversationTurnRow.at.desc(), ConversationTurnRow.id.desc())
                .limit(limit)
            )
            return [
                ConversationTurn(
                    at=row.at,
                    channel=row.channel,
                    group_id=row.group_id,
                    user_id=row.user_id,
                    question=row.question,
                    reply=row.reply,
                    answered=row.answered,
                    reason=row.reason,
                    score=row.score,
                    sources=tuple(row.sources),
                    mode=row.mode,
                    latency_ms=row.latency_ms,
                )
                for row in rows
            ]
