"""The unanswered queue at district scale: thousands of open questions, near-duplicates found without embedding
them again, and nothing unbounded stored (issue 10, faults 1, 3 and 5), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.conversation import Question
from bot.domain.escalation import QuestionStatus
from bot.domain.staff import Actor
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings, embed_array
from bot.services.audit import StaffAudit
from bot.services.escalation import EscalationService
from bot.storage.channel import SqlOutbox
from bot.storage.models import UnansweredAskerRow, UnansweredQuestionRow
from bot.storage.staff import SqlAuditLog
from bot.storage.unanswered import SqlUnansweredQuestions
from tests.support.clock import FakeClock

OPEN_QUESTIONS = 5100
_TEXTS = [f"{n}号楼{n % 97}单元的住户问第{n}件事能不能办" for n in range(OPEN_QUESTIONS)]


class CountingEmbedder:
    """The real model, counting the texts and characters it is asked to embed."""

    def __init__(self, model: UniversalSentenceEncoderEmbeddings) -> None:
        self.model = model
        self.texts = 0
        self.longest = 0

    def __call__(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        self.texts += len(texts)
        self.longest = max([self.longest, *(len(t) for t in texts)])
        return embed_array(self.model, texts)


@pytest.fixture(scope="module")
def stored_vectors(use_embeddings: UniversalSentenceEncoderEmbeddings) -> np.ndarray[Any, np.dtype[np.float32]]:
    return embed_array(use_embeddings, _TEXTS)


def _service(
    sessions: sessionmaker[Session], embed: CountingEmbedder, communities: dict[str, str]
) -> EscalationService:
    clock = FakeClock()
    return EscalationService(
        SqlUnansweredQuestions(sessions),
        SqlOutbox(sessions),
        clock,
        audit=StaffAudit(SqlAuditLog(sessions), clock),
        embed=embed,
        community_of=lambda group: communities.get(group, ""),
    )


def _ask(service: EscalationService, text: str, *, group: str = "room@chatroom", user: str = "wxid_1") -> int:
    question = Question(text, group, user, datetime(2026, 11, 28, 9, tzinfo=UTC), "wechat")
    return service.escalate(question, reason="low_confidence").id


def _fill(sessions: sessionmaker[Session], vectors: np.ndarray[Any, np.dtype[np.float32]] | None) -> None:
    """OPEN_QUESTIONS open questions written in one transaction (as a busy district's queue after weeks)."""
    at = datetime(2026, 11, 1, tzinfo=UTC)
    with sessions.begin() as session:
        rows = [
            UnansweredQuestionRow(
                question=text,
                status="open",
                urgent=False,
                reason="low_confidence",
                candidates=[],
                community="",
                created_at=at,
                answer="",
                answered_by="",
                answered_at=None,
                reminded_at=None,
                vector=None if vectors is None else vectors[n].tobytes(),
                vector_model="",
            )
            for n, text in enumerate(_TEXTS)
        ]
        session.add_all(rows)
        session.flush()
        session.add_all(
            UnansweredAskerRow(
                question_id=row.id,
                channel="wechat",
                group_id="room@chatroom",
                user_id=f"u{row.id}",
                text=row.question,
                asked_at=at,
            )
            for row in rows
        )


def test_fault_3_more_than_5000_open_questions_every_refusal_is_queued_embedding_only_itself(
    sessions: sessionmaker[Session],
    use_embeddings: UniversalSentenceEncoderEmbeddings,
    stored_vectors: np.ndarray[Any, np.dtype[np.float32]],
) -> None:
    _fill(sessions, stored_vectors)
    embed = CountingEmbedder(use_embeddings)
    service = _service(sessions, embed, {})
    numbers = [
        _ask(service, text, user=f"wxid_{n}")
        for n, text in enumerate(["小区里能不能养鸽子", "护照在哪里办", "垃圾几点收"])
    ]
    assert len(set(numbers)) == 3 and embed.texts == 3  # each refusal embedded itself, nothing else
    joined = _ask(service, _TEXTS[2500], user="wxid_same")  # the same words as an open question: it joins that one
    assert joined == 2501 and embed.texts == 4
    question = service.get(joined)
    assert question is not None and [a.user_id for a in question.askers] == ["u2501", "wxid_same"]
    # a new process finds the same questions from their stored embeddings, embedding nothing again
    restarted = CountingEmbedder(use_embeddings)
    assert _ask(_service(sessions, restarted, {}), "小区里能不能养鸽子啊", user="wxid_again") == numbers[0]
    assert restarted.texts == 1


def test_fault_3_questions_queued_without_an_embedding_are_embedded_a_bounded_number_at_a_time(
    sessions: sessionmaker[Session], use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    _fill(sessions, None)  # queued by an older version that kept no embeddings
    embed = CountingEmbedder(use_embeddings)
    service = _service(sessions, embed, {})
    _ask(service, "小区里能不能养鸽子")
    _ask(service, "护照在哪里办")
    assert embed.texts <= 2 * 65
    assert service.count(community=None, status=QuestionStatus.OPEN) == OPEN_QUESTIONS + 2


def test_fault_1_a_long_question_is_queued_and_embedded_bounded(
    sessions: sessionmaker[Session], use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    embed = CountingEmbedder(use_embeddings)
    service = _service(sessions, embed, {})
    number = _ask(service, "转人工 " + "楼上装修太吵了" * 30000)
    question = service.get(number)
    assert question is not None and len(question.question) <= 500 and len(question.askers[0].text) <= 500
    _ask(service, "小区里能不能养鸽子")
    assert embed.longest <= 500


def test_fault_5_near_duplicates_of_another_community_are_not_joined(
    sessions: sessionmaker[Session], use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    service = _service(sessions, CountingEmbedder(use_embeddings), {"xingfu": "幸福里", "heping": "和平里"})
    first = _ask(service, "小区里能不能养鸽子", group="xingfu", user="wxid_a")
    second = _ask(service, "小区里能不能养鸽子", group="heping", user="wxid_b")
    third = _ask(service, "小区里能不能养鸽子啊", group="heping", user="wxid_c")
    assert first != second and second == third
    heping = service.queue(community="和平里", status=QuestionStatus.OPEN)
    assert [[a.user_id for a in q.askers] for q in heping] == [["wxid_b", "wxid_c"]]


def test_fault_3_a_question_settled_by_another_process_is_not_joined(
    sessions: sessionmaker[Session], use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    chat = _service(sessions, CountingEmbedder(use_embeddings), {})
    first = _ask(chat, "小区里能不能养鸽子", user="wxid_a")
    _service(sessions, CountingEmbedder(use_embeddings), {}).close(first, "闲聊", actor=Actor.command_line("李干部"))
    second = _ask(chat, "小区里能不能养鸽子啊", user="wxid_b")
    assert second != first
    third = _ask(chat, "小区里可以养鸽子吗", user="wxid_c")
    assert third == second
