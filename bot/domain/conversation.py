"""What a resident says to the assistant and what the assistant says back, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.knowledge import RetrievalHit


@dataclass(frozen=True, slots=True)
class Answer:
    """The decision and text for one question, with the evidence behind it."""

    question: str
    answered: bool
    reason: str
    text: str
    score: float
    hits: list[RetrievalHit] = field(default_factory=list)
    sources: tuple[RetrievalHit, ...] = ()
    mode: str = "extractive"
    latency_ms: float = 0.0
    # Near-equal candidates offered to the resident as numbered choices when the question was refused
    choices: tuple[RetrievalHit, ...] = ()

    @property
    def top(self) -> RetrievalHit | None:
        """The best hit, if any."""
        return self.hits[0] if self.hits else None


@dataclass(frozen=True, slots=True)
class Question:
    """One resident's message to the assistant, in one group (or private chat)."""

    text: str
    group_id: str  # "" in a private chat
    user_id: str
    at: datetime | None = None
    channel: str = "terminal"
    # The inbound message it came from ("" outside a chat): what it leads to is done once per message
    origin: str = ""


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


REASON_LABELS: dict[str, str] = {
    "matched": "知识库里找到了答案",
    "llm": "模型依据资料作答",
    "several_questions": "一条消息里问了几件事",
    "low_confidence": "知识库里没找到可靠答案",
    "chosen": "居民从候选问题里选了一项",
    "choice_out_of_range": "居民回复的序号不在候选里",
    "other_region": "问的是外地政策",
    "llm_no_answer": "资料里没有答案",
    "output_blocked": "答案含敏感词被拦下",
    "sensitive_input": "提问含敏感词",
    "injection": "疑似要求改变规则",
    "too_long": "消息太长",
    "needs_topic": "没说清是哪件事",
    "handoff": "居民要求人工",
}


def reason_label(reason: str) -> str:
    """Why the assistant answered or not, as staff read it."""
    if reason.startswith("small_talk"):
        return "寒暄，不查知识库"
    return REASON_LABELS.get(reason, reason)


@dataclass(frozen=True, slots=True)
class ActivityScope:
    """Which turns the dashboard counts: not those of the excluded channels; one community's groups if given (a
    private chat counts for the community private chats belong to)."""

    exclude_channels: tuple[str, ...] = ()
    community: str | None = None
    includes_private: bool = True
