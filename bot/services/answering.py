"""Answering a resident's question from the knowledge base: retrieve, decide whether to answer, compose the reply."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bot.domain.knowledge import EntryKind, RetrievalHit
from bot.rag.retriever import HybridRetriever
from bot.services.scope import RegionScope

REFUSAL_TEXT = "抱歉，这个问题我现在还答不上来，请直接联系社区工作人员咨询。"
EMPTY_TEXT = "请用文字把您的问题说一说，我来帮您查。"
OTHER_REGION_TEXT = "我只了解本社区的政策和服务，{region}的情况请咨询当地社区或拨打当地 12345 热线。"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the assistant replies to one question, and why."""

    question: str
    answered: bool
    reason: str
    text: str
    score: float
    hits: list[RetrievalHit] = field(default_factory=list)
    latency_ms: float = 0.0

    @property
    def top(self) -> RetrievalHit | None:
        """The best hit, if any."""
        return self.hits[0] if self.hits else None


class AnsweringService:
    """Extractive answers with a source line; refuses below the calibrated confidence threshold."""

    def __init__(self, retriever: HybridRetriever, *, threshold: float, scope: RegionScope, top_k: int = 5) -> None:
        self._retriever = retriever
        self._threshold = threshold
        self._scope = scope
        self._top_k = top_k

    @property
    def threshold(self) -> float:
        """The confidence below which the assistant does not answer."""
        return self._threshold

    def prepare(self) -> None:
        """Load the index and models now rather than on the first question."""
        self._retriever.reload()

    def answer(self, question: str) -> Answer:
        """Answer one question (the same path serves chat, ask and eval)."""
        started = time.perf_counter()
        text = question.strip()
        if not text:
            return Answer(question, False, "empty", EMPTY_TEXT, 0.0, [], _ms(started))
        hits = self._retriever.retrieve(text, top_k=self._top_k)
        top = hits[0] if hits else None
        score = top.score if top else 0.0
        region = self._scope.other_region(text)
        if region is not None:
            reply = OTHER_REGION_TEXT.format(region=region)
            return Answer(question, False, "other_region", reply, score, hits, _ms(started))
        if top is None or top.score < self._threshold:
            return Answer(question, False, "low_confidence", REFUSAL_TEXT, score, hits, _ms(started))
        return Answer(question, True, "matched", compose_extractive(top), top.score, hits, _ms(started))


def compose_extractive(hit: RetrievalHit) -> str:
    """The matched FAQ answer, or the matched guide passage, followed by a source line."""
    body = hit.content if hit.kind is EntryKind.FAQ else f"【{hit.title}·{hit.section}】{hit.content}"
    return f"{body}\n{source_line(hit)}"


def source_line(hit: RetrievalHit) -> str:
    """'来源：… （2026-10-15 更新）' for a hit."""
    updated = f"，{hit.updated} 更新" if hit.updated else ""
    return f"来源：{hit.source}{updated}"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
