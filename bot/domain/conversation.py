"""What a resident says to the assistant and what the assistant says back, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.services.answering import Answer


@dataclass(frozen=True, slots=True)
class Question:
    """One resident's message to the assistant, in one group (or private chat)."""

    text: str
    group_id: str  # "" in a private chat
    user_id: str
    at: datetime | None = None
    channel: str = "terminal"


@dataclass(frozen=True, slots=True)
class ConversationTurn:
    """The record of one handled message, masked, as staff and the dashboard see it."""

    at: datetime
    channel: str
    group_id: str
    user_id: str
    question: str
    reply: str
    answered: bool
    reason: str
    score: float
    sources: tuple[str, ...]
    mode: str
    latency_ms: float


@dataclass(frozen=True, slots=True)
class Reply:
    """What the assistant sends back: the text, whether the knowledge base answered it, and why."""

    text: str
    answered: bool
    reason: str
    answers: tuple[Answer, ...] = field(default_factory=tuple)
    latency_ms: float = 0.0

    @property
    def primary(self) -> Answer | None:
        """The answer the reply is mainly about (the first part of a several-part question)."""
        return self.answers[0] if self.answers else None

    @property
    def score(self) -> float:
        """Confidence of the primary answer."""
        return self.primary.score if self.primary else 0.0
