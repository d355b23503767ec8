"""Workflow moves on both databases: a compare-and-set on the status that one of two racing sessions wins, the
move recorded with who, when and why, and the messages it queues kept or rolled back with it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.escalation import QUESTION_WORKFLOW, Asker, QuestionEvent, QuestionNotOpenError, QuestionStatus
from bot.domain.messages import OutboundMessage
from bot.domain.workflow import Transition, TransitionNotAllowed
from bot.storage.channel import SqlOutbox
from bot.storage.models import OutboxRow, UnansweredQuestionRow, WorkflowTransitionRow
from bot.storage.unanswered import SqlUnansweredQuestions
from bot.storage.workflow import SqlTransitions, apply_transition

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _question(questions: SqlUnansweredQuestions, text: str = "小区里能养鸽子吗") -> int:
    asker = Asker("wechat", "room-3", "wxid_li", text, NOW)
    return questions.create(
        question=text, asker=asker, urgent=False, reason="low_confidence", candidates=[], now=NOW
    ).id


def _reply(text: str = "不可以。") -> OutboundMessage:
    return OutboundMessage("wechat", text, group_id="room-3", mention_ids=("wxid_li",))


def _count(sessions: sessionmaker[Session], row: type[OutboxRow] | type[WorkflowTransitionRow]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(row)) or 0)


@pytest.fixture
def both_read_before_either_writes(sessions: sessionmaker[Session]) -> Iterator[threading.Barrier]:
    """Holds each session's status UPDATE until two sessions have reached theirs, so both read the question open."""
    barrier = threading.Barrier(2, timeout=30)
    engine: Engine = sessions.kw["bind"]

    def hold(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE UNANSWERED_QUESTIONS"):
            barrier.wait()

    event.listen(engine, "before_cursor_execute", hold)
    yield barrier
    event.remove(engine, "before_cursor_execute", hold)


def test_two_sessions_answering_at_once_one_wins_and_the_replies_go_once(
    sessions: sessionmaker[Session], both_read_before_either_writes: threading.Barrier
) -> None:
    questions = SqlUnansweredQuestions(sessions)
    number = _question(questions)

    def answer(by: str) -> str:
        try:
            questions.answer(number, answer=f"{by}说不可以。", by=by, now=NOW, replies=[_reply(f"{by}说不可以。")])
        except QuestionNotOpenError as refused:
            assert refused.status == QuestionStatus.ANSWERED  # refused by the compare-and-set, not a missing row
            return "refused"
        return "won"

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(answer, ["张主任", "李干部"]))
    assert sorted(outcomes) == ["refused", "won"]
    winner = ["张主任", "李干部"][outcomes.index("won")]
    answered = questions.get(number)
    assert answered is not None and answered.answered_by == winner and answered.answer == f"{winner}说不可以。"
    (move,) = SqlTransitions(sessions).transitions("question", number)
    assert (move.actor, move.from_status, move.to_status) == (winner, "open", "answered")
    assert [q.message.text for q in SqlOutbox(sessions).due(now=NOW, limit=10)] == [f"{winner}说不可以。"]


def test_each_move_is_recorded_with_who_when_and_why(sessions: sessionmaker[Session]) -> None:
    questions = SqlUnansweredQuestions(sessions)
    answered, closed = _question(questions), _question(questions, "哈哈哈你们真逗")
    questions.answer(answered, answer="不可以。", by="张主任", now=NOW, replies=[_reply()])
    later = NOW + timedelta(minutes=5)
    questions.close(closed, note="闲聊", by="小助手", now=later)
    history = SqlTransitions(sessions)
    assert history.transitions("question", answered) == [
        Transition("question", answered, "open", "answered", "answer", "张主任", NOW, "不可以。")
    ]
    assert history.transitions("question", closed) == [
        Transition("question", closed, "open", "closed", "close", "小助手", later, "闲聊")
    ]
    assert history.transitions("petition", answered) == []  # another kind's history is its own


def test_a_refused_move_queues_nothing_and_records_nothing(sessions: sessionmaker[Session]) -> None:
    questions = SqlUnansweredQuestions(sessions)
    number = _question(questions)
    questions.close(number, note="闲聊", by="张主任", now=NOW)
    with pytest.raises(QuestionNotOpenError) as refused:
        questions.answer(number, answer="不可以。", by="李干部", now=NOW, replies=[_reply()])
    assert refused.value.status == QuestionStatus.CLOSED and "已关闭" in str(refused.value)
    with pytest.raises(QuestionNotOpenError) as missing:
        questions.answer(number + 1, answer="不可以。", by="李干部", now=NOW, replies=[_reply()])
    assert missing.value.status is None and str(missing.value) == f"没有找到问题 #{number + 1}"
    assert _count(sessions, OutboxRow) == 0 and _count(sessions, WorkflowTransitionRow) == 1
    closed = questions.get(number)
    assert closed is not None and (closed.status, closed.answered_by) == (QuestionStatus.CLOSED, "张主任")


def test_the_status_the_move_and_its_messages_are_one_transaction(sessions: sessionmaker[Session]) -> None:
    questions = SqlUnansweredQuestions(sessions)
    number = _question(questions)
    with pytest.raises(RuntimeError), sessions.begin() as session:
        apply_transition(
            session,
            QUESTION_WORKFLOW,
            UnansweredQuestionRow,
            number,
            QuestionEvent.ANSWER,
            actor="张主任",
            at=NOW,
            values={"answer": "不可以。"},
            messages=[_reply()],
        )
        raise RuntimeError("the transaction fails after the move")
    still = questions.get(number)
    assert still is not None and still.status is QuestionStatus.OPEN and still.answer == ""
    assert _count(sessions, OutboxRow) == 0 and _count(sessions, WorkflowTransitionRow) == 0
    with sessions.begin() as session:
        move = apply_transition(
            session, QUESTION_WORKFLOW, UnansweredQuestionRow, number, QuestionEvent.CLOSE, actor="张主任", at=NOW
        )
    assert move == Transition("question", number, "open", "closed", "close", "张主任", NOW, "")
    with pytest.raises(TransitionNotAllowed), sessions.begin() as session:
        apply_transition(
            session, QUESTION_WORKFLOW, UnansweredQuestionRow, number, QuestionEvent.CLOSE, actor="李干部", at=NOW
        )
