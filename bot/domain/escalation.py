"""Questions handed to a person: who asked, what, and the answer staff gave."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class QuestionStatus(StrEnum):
    """Where an unanswered question stands."""

    OPEN = "open"
    ANSWERED = "answered"
    # Staff looked at it and decided no answer is owed (chit-chat, a duplicate, already settled in the group)
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Asker:
    """One resident who asked (several near-identical questions share one UnansweredQuestion)."""

    channel: str
    group_id: str
    user_id: str
    text: str
    asked_at: datetime


@dataclass(frozen=True, slots=True)
class UnansweredQuestion:
    """A question the assistant passed to staff; `id` is the short number staff quote ("#12 答：…")."""

    id: int
    question: str
    status: QuestionStatus
    urgent: bool
    reason: str
    candidates: tuple[str, ...]
    created_at: datetime
    askers: tuple[Asker, ...]
    answer: str = ""  # the answer, or for a closed question why it was closed
    answered_by: str = ""
    answered_at: datetime | None = None
    community: str = ""
