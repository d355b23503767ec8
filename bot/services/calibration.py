"""Calibrating the answer decision on the knowledge base just ingested, from what it holds and a shipped background.

A threshold tuned on one knowledge base does not carry over to another: with one phrasing per entry and entries that
resemble each other, a wrong entry scores as high as a right one does elsewhere. So the threshold is set, at ingest,
just above the confidence that this knowledge base's hardest non-answers reach: off-topic questions residents ask
(the background below, written for this project) and each entry's own question asked with that entry left out (an
in-domain question the knowledge base does not cover, the hardest kind).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.domain.knowledge import Calibration
from bot.rag.retriever import HybridRetriever
from bot.services.answering import UNCALIBRATED, confidence

BACKGROUND_FILE = Path(__file__).resolve().parents[1] / "rag" / "resources" / "offtopic_background.txt"


def background_questions(path: Path = BACKGROUND_FILE) -> tuple[str, ...]:
    """The shipped off-topic questions (one a line, # starts a comment)."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


@dataclass(frozen=True, slots=True)
class CalibrationRule:
    """How the decision is fitted (chosen on the tuning sets, README "How refusal is calibrated").

    The threshold is the `background_level` quantile of the background's confidences, never below `floor`, and
    high enough that no more than `uncovered_share` of the left-out questions stay above it (many of them find a
    near-duplicate of their entry, so this is a guard, not a target). A knowledge base that gives each entry several
    phrasings keeps `margin_weight`; one with a single phrasing per entry uses the `single_` values: without
    paraphrases, one lexically close entry leads every other by far, so a large lead says less about being right.
    """

    background_level: float = 0.95
    uncovered_share: float = 0.75
    single_background_level: float = 0.97
    single_uncovered_share: float = 0.4
    floor: float = 1.0
    max_uncovered: int = 300
    margin_weight: float = UNCALIBRATED.margin_weight
    single_margin_weight: float = 1.0
    agreement_bonus: float = UNCALIBRATED.agreement_bonus
    # How far below the answer threshold a follow-up (already confined to one subject) may be answered
    followup_gap: float = UNCALIBRATED.threshold - UNCALIBRATED.followup_threshold


class DecisionCalibrator:
    """Fits the answer decision to the knowledge base the retriever serves (called by ingestion after a change)."""

    def __init__(
        self, retriever: HybridRetriever, background: Sequence[str], rule: CalibrationRule | None = None
    ) -> None:
        self._retriever = retriever
        self._background = tuple(background)
        self._rule = rule or CalibrationRule()

    def is_current(self, calibration: Calibration | None) -> bool:
        """Whether a stored calibration was made the way this calibrator makes one."""
        rule = self._rule
        return (
            calibration is not None
            and calibration.margin_weight in (rule.margin_weight, rule.single_margin_weight)
            and calibration.agreement_bonus == rule.agreement_bonus
        )

    def calibrate(self) -> Calibration:
        """Load the live index and calibrate the decision on it."""
        started = time.perf_counter()
        rule = self._rule
        self._retriever.reload()
        questions = self._retriever.entry_questions()
        paraphrased = sum(map(len, questions.values())) >= 2 * len(questions)
        margin_weight = rule.margin_weight if paraphrased else rule.single_margin_weight
        level = rule.background_level if paraphrased else rule.single_background_level
        uncovered_share = rule.uncovered_share if paraphrased else rule.single_uncovered_share
        background = self._confidences([(question, frozenset()) for question in self._background], margin_weight)
        uncovered = self._confidences(
            [(text, frozenset({entry_id})) for entry_id, text in _left_out(questions, rule.max_uncovered)],
            margin_weight,
        )
        threshold = max(
            rule.floor,
            float(np.quantile(background, level)) if background.size else 0.0,
            float(np.quantile(uncovered, 1.0 - uncovered_share)) if uncovered.size else 0.0,
        )
        threshold = round(threshold, 4)
        return Calibration(
            threshold=threshold,
            margin_weight=margin_weight,
            agreement_bonus=rule.agreement_bonus,
            followup_threshold=round(max(threshold - rule.followup_gap, 0.0), 4),
            background_answered=_share_at(background, threshold),
            uncovered_answered=_share_at(uncovered, threshold),
            background_questions=len(background),
            uncovered_questions=len(uncovered),
            seconds=round(time.perf_counter() - started, 2),
        )

    def _confidences(
        self, asked: list[tuple[str, frozenset[str]]], margin_weight: float
    ) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
        found = self._retriever.retrieve_many(asked)
        return np.array([confidence(hits, margin_weight, self._rule.agreement_bonus) for hits in found])


def _left_out(questions: dict[str, tuple[str, ...]], limit: int) -> list[tuple[str, str]]:
    """(entry id, one of its own questions) for up to `limit` entries spread evenly over the knowledge base."""
    ordered = sorted(questions.items())
    step = max(1, -(-len(ordered) // limit))
    return [(entry_id, texts[n % len(texts)]) for n, (entry_id, texts) in enumerate(ordered[::step])]


def _share_at(scores: np.ndarray[tuple[int], np.dtype[np.float64]], threshold: float) -> float:
    return round(float(np.mean(scores >= threshold)), 4) if scores.size else 0.0
