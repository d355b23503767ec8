"""Answering one question from the knowledge base: retrieve, decide whether to answer, write the reply text."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bot.domain.knowledge import EntryKind, RetrievalHit
from bot.domain.privacy import mask_personal_data
from bot.rag.chunking import pack_sentences
from bot.rag.generation import GroundedAnswerWriter
from bot.rag.retriever import HybridRetriever
from bot.services.scope import RegionScope

REFUSAL_TEXT = "这个问题我暂时答不上来，已经转给社区工作人员，他们会尽快回复您。"
OTHER_REGION_TEXT = "我只了解本社区的政策和服务，{region}的情况请咨询当地社区或拨打当地 12345 热线。"


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

    @property
    def top(self) -> RetrievalHit | None:
        """The best hit, if any."""
        return self.hits[0] if self.hits else None


class AnsweringService:
    """Grounded answers with a source line; refuses below the calibrated confidence or when the model says so."""

    def __init__(
        self,
        retriever: HybridRetriever,
        *,
        threshold: float,
        scope: RegionScope,
        writer: GroundedAnswerWriter | None = None,
        margin_weight: float = 0.0,
        agreement_bonus: float = 0.0,
        top_k: int = 5,
        max_reply_chars: int = 300,
    ) -> None:
        self._retriever = retriever
        self._threshold = threshold
        self._scope = scope
        self._writer = writer
        self._margin_weight = margin_weight
        self._agreement_bonus = agreement_bonus
        self._top_k = top_k
        self._max_reply_chars = max_reply_chars

    @property
    def threshold(self) -> float:
        """The confidence below which the assistant does not answer."""
        return self._threshold

    @property
    def retriever(self) -> HybridRetriever:
        """The retriever behind this service (for follow-up topics)."""
        return self._retriever

    def prepare(self) -> None:
        """Load the index and models now rather than on the first question."""
        self._retriever.reload()

    def answer(
        self,
        question: str,
        *,
        within: frozenset[str] | None = None,
        context: str = "",
        threshold: float | None = None,
    ) -> Answer:
        """Answer one question; a follow-up passes its topic's entries, words and its own calibrated threshold."""
        started = time.perf_counter()
        hits = self._retriever.retrieve(question, top_k=self._top_k, within=within, context=context)
        top = hits[0] if hits else None
        score = confidence(hits, self._margin_weight, self._agreement_bonus)

        def result(
            answered: bool, reason: str, text: str, sources: tuple[RetrievalHit, ...] = (), mode: str = "extractive"
        ) -> Answer:
            latency = round((time.perf_counter() - started) * 1000, 2)
            return Answer(question, answered, reason, text, score, hits, sources, mode, latency)

        region = self._scope.other_region(question)
        if region is not None:
            return result(False, "other_region", OTHER_REGION_TEXT.format(region=region))
        if top is None or score < (self._threshold if threshold is None else threshold):
            return result(False, "low_confidence", REFUSAL_TEXT)
        if self._writer is not None:
            written = self._writer.write(mask_personal_data(question), hits[:3])
            if written is not None and written.refused:
                return result(False, "llm_no_answer", REFUSAL_TEXT, mode="llm")
            if written is not None:
                text = f"{self._bounded(written.text, written.cited[0])}\n{source_line(written.cited[0])}"
                return result(True, "matched", text, sources=written.cited, mode="llm")
        body = self._bounded(extractive_body(top), top)
        return result(True, "matched", f"{body}\n{source_line(top)}", sources=(top,))

    def _bounded(self, body: str, hit: RetrievalHit) -> str:
        """Whole sentences up to the reply bound; what does not fit is pointed to, never cut mid-sentence."""
        if len(body) <= self._max_reply_chars:
            return body
        pointer = f"……详见《{hit.title}》"
        kept = pack_sentences(body, self._max_reply_chars - len(pointer))[0]
        return kept + pointer


def confidence(hits: list[RetrievalHit], margin_weight: float, agreement_bonus: float = 0.0) -> float:
    """How sure retrieval is: the best entry's score, a bonus for its lead over the runner-up, and one for agreement.

    A clear winner is far likelier right than the best of several near-equal candidates; on the development set
    this separates right answers from wrong ones and from questions the knowledge base does not cover much better
    than the top score alone. When the meaning (dense) and the resident's words (lexical) independently rank the
    same entry first, a narrow lead is usually between two entries of the right subject rather than a guess
    (README, "How refusal was calibrated").
    """
    if not hits:
        return 0.0
    runner_up = hits[1].score if len(hits) > 1 else 0.0
    bonus = agreement_bonus if evidence_agrees(hits) else 0.0
    return round(hits[0].score + margin_weight * (hits[0].score - runner_up) + bonus, 4)


def evidence_agrees(hits: list[RetrievalHit]) -> bool:
    """Whether the best entry is also first by dense similarity alone and by lexical score alone among the hits."""
    if not hits:
        return False
    top = hits[0]
    return all(top.dense_score >= h.dense_score and top.lexical_score >= h.lexical_score for h in hits[1:])


def extractive_body(hit: RetrievalHit) -> str:
    """The matched FAQ answer, or the matched guide passage under its section name."""
    if hit.kind is EntryKind.FAQ:
        return hit.content
    return f"{hit.section}：{hit.content}" if hit.section and hit.section != hit.title else hit.content


def source_line(hit: RetrievalHit) -> str:
    """Where an answer comes from and when that was updated, in one line."""
    updated = f"，{hit.updated} 更新" if hit.updated else ""
    if hit.kind is EntryKind.FAQ:
        return f"（来源：{hit.source}{updated}）"
    section = f"·{hit.section}" if hit.section and hit.section != hit.title else ""
    return f"（来源：《{hit.title}》{section}，{hit.source}{updated}）"
