"""Questions handed to a person: who asked, what, and the answer staff gave."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.workflow import TransitionNotAllowed, Workflow


class QuestionStatus(StrEnum):
    """Where an unanswered question stands."""

    OPEN = "open"
    ANSWERED = "answered"
    # Staff looked at it and decided no answer is owed (chit-chat, a duplicate, already settled in the group)
    CLOSED = "closed"


class QuestionEvent(StrEnum):
    """What staff (or the assistant) do to an unanswered question."""

    ANSWER = "answer"
    CLOSE = "close"


class QuestionNotOpenError(TransitionNotAllowed):
    """No open question has that number: it is missing, or already answered or closed."""


# Only an open question can be answered or closed; answered and closed questions stay as they are.
QUESTION_WORKFLOW: Workflow[QuestionStatus, QuestionEvent] = Workflow(
    "question",
    "问题",
    statuses={QuestionStatus.OPEN: "待答", QuestionStatus.ANSWERED: "已答复", QuestionStatus.CLOSED: "已关闭"},
    events={QuestionEvent.ANSWER: "答复", QuestionEvent.CLOSE: "关闭"},
    moves={
        (QuestionStatus.OPEN, QuestionEvent.ANSWER): QuestionStatus.ANSWERED,
        (QuestionStatus.OPEN, QuestionEvent.CLOSE): QuestionStatus.CLOSED,
    },
    error=QuestionNotOpenError,
)


@dataclass(frozen=True, slots=True)
class Asker:
    """One resident who asked (several near-identical questions share one UnansweredQuestion)."""

    channel: str
    group_id: str
    user_id: str
    text: str
    asked_at: datetime
    # The inbound message (and part) this asking came from: the same one never asks twice (a retried handler)
    origin: str = ""


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


# (number, community, question, its embedding if the given model made it)
EmbeddingRow = tuple[int, str, str, bytes | None]
