"""Answering one question from the knowledge base: retrieve, decide whether to answer, write the reply text."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.domain.conversation import Answer
from bot.domain.knowledge import Calibration, EntryKind, RetrievalHit
from bot.domain.privacy import mask_personal_data
from bot.rag.chunking import pack_sentences
from bot.rag.generation import GroundedAnswerWriter
from bot.rag.retriever import HybridRetriever
from bot.services.scope import RegionScope

REFUSAL_TEXT = "这个问题我暂时答不上来，已经转给社区工作人员，他们会尽快回复您。"
CHOICES_TEXT = "您是不是想问下面哪一项？回复数字就能看到答案：\n{choices}"
OTHER_REGION_TEXT = "我只了解本社区的政策和服务，{region}的情况请咨询当地社区或拨打当地 12345 热线。"


@dataclass(frozen=True, slots=True)
class ChoiceRule:
    """When a refused question's candidates are offered as choices: the best scores at least `floor` and the others
    lie within `gap` of it (several entries fit about equally well; calibrated on the development set)."""

    floor: float
    gap: float
    limit: int = 3


@dataclass(frozen=True, slots=True)
class AnswerDecision:
    """The answer decision in force: the confidence's weights, the thresholds, and whether the knowledge base's own
    calibration set them (the console's 试一试 and `eval --show-misses` show it)."""

    threshold: float
    margin_weight: float
    agreement_bonus: float
    followup_threshold: float
    calibrated: bool = False
    overridden: bool = False

    def describe(self) -> str:
        """One Chinese line for staff: the threshold in force and where it comes from."""
        origin = "按设置" if self.overridden else "按本知识库校准" if self.calibrated else "默认值，知识库尚未校准"
        return f"回答阈值 {self.threshold:.2f}（{origin}），追问阈值 {self.followup_threshold:.2f}"


# The decision calibrated on the development set, used when the index holds no calibration of its own (an index
# built before calibration, until the next ingest).
UNCALIBRATED = AnswerDecision(threshold=1.35, margin_weight=4.0, agreement_bonus=0.2, followup_threshold=1.0)


@dataclass(frozen=True, slots=True)
class DecisionOverrides:
    """Settings that override the calibrated decision (None: take the knowledge base's calibration)."""

    threshold: float | None = None
    margin_weight: float | None = None
    agreement_bonus: float | None = None
    followup_threshold: float | None = None

    def applied_to(self, calibration: Calibration | None) -> AnswerDecision:
        """The decision in force: the calibration (or UNCALIBRATED), with every set override taking precedence."""
        base = (
            AnswerDecision(
                calibration.threshold,
                calibration.margin_weight,
                calibration.agreement_bonus,
                calibration.followup_threshold,
                calibrated=True,
            )
            if calibration is not None
            else UNCALIBRATED
        )
        return AnswerDecision(
            threshold=base.threshold if self.threshold is None else self.threshold,
            margin_weight=base.margin_weight if self.margin_weight is None else self.margin_weight,
            agreement_bonus=base.agreement_bonus if self.agreement_bonus is None else self.agreement_bonus,
            followup_threshold=base.followup_threshold if self.followup_threshold is None else self.followup_threshold,
            calibrated=base.calibrated and self.threshold is None,
            overridden=self.threshold is not None,
        )


class AnsweringService:
    """Grounded answers with a source line; refuses below the calibrated confidence or when the model says so."""

    def __init__(
        self,
        retriever: HybridRetriever,
        *,
        threshold: float | None,
        scope: RegionScope,
        writer: GroundedAnswerWriter | None = None,
        margin_weight: float | None = 0.0,
        agreement_bonus: float | None = 0.0,
        followup_threshold: float | None = None,
        choice_rule: ChoiceRule | None = None,
        top_k: int = 5,
        max_reply_chars: int = 300,
    ) -> None:
        """threshold, margin_weight, agreement_bonus and followup_threshold: None takes the value the knowledge base
        was calibrated with at ingest (README, "How refusal is calibrated"); a number overrides it."""
        self._retriever = retriever
        self._overrides = DecisionOverrides(threshold, margin_weight, agreement_bonus, followup_threshold)
        self._scope = scope
        self._writer = writer
        self._choice_rule = choice_rule
        self._top_k = top_k
        self._max_reply_chars = max_reply_chars
        # The places the knowledge base covers, learnt once per index generation: (generation, places)
        self._covered: tuple[str, frozenset[str]] = ("", frozenset())

    @property
    def threshold(self) -> float:
        """The confidence below which the assistant does not answer."""
        return self.decision().threshold

    def decision(self) -> AnswerDecision:
        """The decision in force for the loaded index: its calibration, with the settings' overrides."""
        return self._overrides.applied_to(self._retriever.calibration())

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
        """Answer one question; a follow-up passes its topic's entries and words (and is held to the follow-up
        threshold unless `threshold` is given)."""
        started = time.perf_counter()
        hits = self._retriever.retrieve(question, top_k=self._top_k, within=within, context=context)
        top = hits[0] if hits else None
        decision = self.decision()
        if threshold is None:
            threshold = decision.threshold if within is None else decision.followup_threshold
        # Within a topic, an entry with no runner-up in sight leads nothing: the rest of the topic is merely far from
        # the question ("家里养的狗要去哪儿办狗证" after 垃圾分类 finds one garbage entry, and no lead to speak of).
        margin_weight = decision.margin_weight if within is None or len(hits) > 1 else 0.0
        score = confidence(hits, margin_weight, decision.agreement_bonus)

        def result(
            answered: bool,
            reason: str,
            text: str,
            sources: tuple[RetrievalHit, ...] = (),
            mode: str = "extractive",
            choices: tuple[RetrievalHit, ...] = (),
        ) -> Answer:
            latency = round((time.perf_counter() - started) * 1000, 2)
            return Answer(question, answered, reason, text, score, hits, sources, mode, latency, choices)

        region = self._scope.other_region(question, self._covered_regions())
        if region is not None:
            return result(False, "other_region", OTHER_REGION_TEXT.format(region=region))
        if top is None or score < threshold:
            choices = self._choices(hits)
            return result(False, "low_confidence", refusal_text(choices), choices=choices)
        if self._writer is not None:
            written = self._writer.write(mask_personal_data(question), hits[:3])
            if written is not None and written.refused:
                return result(False, "llm_no_answer", REFUSAL_TEXT, mode="llm")
            if written is not None:
                text = f"{self._bounded(written.text, written.cited[0])}\n{source_line(written.cited[0])}"
                return result(True, "matched", text, sources=written.cited, mode="llm")
        return result(True, "matched", self._extractive(top), sources=(top,))

    def _covered_regions(self) -> frozenset[str]:
        """The places named across the knowledge base in front of us, so a question about them is not elsewhere."""
        generation = self._retriever.generation
        learnt, places = self._covered
        if learnt != generation:
            places = self._scope.covered_by(self._retriever.chunks())
            self._covered = (generation, places)
        return places

    def answer_choice(self, question: str, hit: RetrievalHit) -> Answer:
        """The answer from the entry a resident picked among the choices offered after a refusal."""
        return Answer(question, True, "chosen", self._extractive(hit), hit.score, [hit], (hit,))

    def _extractive(self, hit: RetrievalHit) -> str:
        """The entry's own text, bounded, with its source line."""
        return f"{self._bounded(extractive_body(hit), hit)}\n{source_line(hit)}"

    def _choices(self, hits: list[RetrievalHit]) -> tuple[RetrievalHit, ...]:
        """The candidates worth offering: several that fit about equally well, none of them well enough alone."""
        rule = self._choice_rule
        if rule is None or not hits or hits[0].score < rule.floor:
            return ()
        close = tuple(hit for hit in hits[: rule.limit] if hits[0].score - hit.score <= rule.gap)
        return close if len(close) >= 2 else ()

    def _bounded(self, body: str, hit: RetrievalHit) -> str:
        """Whole sentences up to the reply bound; what does not fit is pointed to, never cut mid-sentence."""
        if len(body) <= self._max_reply_chars:
            return body
        pointer = f"……详见《{hit.title}》"
        kept = pack_sentences(body, self._max_reply_chars - len(pointer))[0]
        return kept + pointer


def refusal_text(choices: tuple[RetrievalHit, ...] = ()) -> str:
    """The refusal, with the numbered choices when there are some."""
    if not choices:
        return REFUSAL_TEXT
    lines = "\n".join(f"{n}. {choice_label(hit)}" for n, hit in enumerate(choices, start=1))
    return f"{REFUSAL_TEXT}\n{CHOICES_TEXT.format(choices=lines)}"


def choice_label(hit: RetrievalHit) -> str:
    """How a choice reads: a FAQ's question, or a guide's title and section."""
    return hit.title if hit.kind is EntryKind.FAQ else _guide_place(hit)


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
    section = _named_section(hit)
    return f"{section}：{hit.content}" if section else hit.content


def source_line(hit: RetrievalHit) -> str:
    """Where an answer comes from and when that was updated, in one line."""
    updated = f"，{hit.updated} 更新" if hit.updated else ""
    if hit.kind is EntryKind.FAQ:
        return f"（来源：{hit.source}{updated}）"
    return f"（来源：{_guide_place(hit)}，{hit.source}{updated}）"


def _named_section(hit: RetrievalHit) -> str:
    """The hit's section, unless it only repeats the entry's title."""
    return hit.section if hit.section and hit.section != hit.title else ""


def _guide_place(hit: RetrievalHit) -> str:
    """A guide and the section within it: 《高龄津贴申领指南》·资格认证."""
    section = _named_section(hit)
    return f"《{hit.title}》·{section}" if section else f"《{hit.title}》"
