"""The answer/refuse confidence: the best score, its lead over the runner-up, and agreement of the two rankings."""

from __future__ import annotations

import pytest

from bot.domain.knowledge import EntryKind, RetrievalHit
from bot.services.answering import confidence, evidence_agrees


def hit(entry_id: str, score: float, dense: float, lexical: float) -> RetrievalHit:
    return RetrievalHit(
        entry_id=entry_id,
        kind=EntryKind.FAQ,
        title="",
        section="",
        source="",
        updated="",
        matched_text="",
        content="",
        score=score,
        dense_score=dense,
        lexical_score=lexical,
        chunk_id=f"{entry_id}#0",
    )


def test_both_rankings_putting_the_best_entry_first_agree() -> None:
    hits = [hit("faq-a", 1.0, 0.8, 0.9), hit("faq-b", 0.9, 0.7, 0.9), hit("faq-c", 0.5, 0.6, 0.2)]
    assert evidence_agrees(hits)


@pytest.mark.parametrize(
    "runner_up",
    [
        hit("faq-b", 0.9, 0.85, 0.5),  # the meaning alone prefers another entry
        hit("faq-b", 0.9, 0.5, 0.95),  # the resident's words alone prefer another entry
    ],
)
def test_a_best_entry_that_one_ranking_puts_second_does_not_agree(runner_up: RetrievalHit) -> None:
    assert not evidence_agrees([hit("faq-a", 1.0, 0.8, 0.9), runner_up])


def test_a_single_hit_agrees_and_no_hit_does_not() -> None:
    assert evidence_agrees([hit("faq-a", 0.4, 0.3, 0.1)])
    assert not evidence_agrees([])


def test_confidence_adds_the_lead_and_the_agreement_bonus() -> None:
    agreeing = [hit("faq-a", 1.0, 0.8, 0.9), hit("faq-b", 0.9, 0.7, 0.5)]
    disagreeing = [hit("faq-a", 1.0, 0.8, 0.4), hit("faq-b", 0.9, 0.7, 0.5)]
    assert confidence(agreeing, margin_weight=4.0, agreement_bonus=0.2) == pytest.approx(1.0 + 4 * 0.1 + 0.2)
    assert confidence(disagreeing, margin_weight=4.0, agreement_bonus=0.2) == pytest.approx(1.0 + 4 * 0.1)
    assert confidence(agreeing, margin_weight=4.0) == pytest.approx(1.4)
    assert confidence([], margin_weight=4.0, agreement_bonus=0.2) == 0.0


def test_agreement_can_carry_a_narrow_lead_over_the_threshold_but_not_a_weak_match() -> None:
    threshold = 1.35
    narrow_agreeing = [hit("faq-a", 1.05, 0.8, 1.0), hit("faq-b", 1.02, 0.75, 0.9)]
    narrow_disagreeing = [hit("faq-a", 1.05, 0.8, 0.9), hit("faq-b", 1.02, 0.75, 1.0)]
    weak_agreeing = [hit("faq-a", 0.5, 0.5, 0.3), hit("faq-b", 0.45, 0.4, 0.2)]
    assert confidence(narrow_agreeing, 4.0, 0.2) >= threshold
    assert confidence(narrow_disagreeing, 4.0, 0.2) < threshold
    assert confidence(weak_agreeing, 4.0, 0.2) < threshold
