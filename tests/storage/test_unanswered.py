"""The unanswered queue on both databases: askers join, answering is atomic with the replies it queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.escalation import Asker, QuestionStatus
from bot.domain.messages import OutboundMessage
from bot.storage.channel import SqlOutbox
from bot.storage.unanswered import QuestionNotOpenError, SqlUnansweredQuestions

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_questions_gather_askers_and_are_answered_once(sessions: sessionmaker[Session]) -> None:
    questions = SqlUnansweredQuestions(sessions)
    li = Asker("wechat", "room-3", "wxid_li", "小区里能养鸽子吗", NOW)
    wang = Asker("wechat", "room-5", "wxid_wang", "小区能不能养鸽子", NOW + timedelta(minutes=1))
    first = questions.create(
        question="小区里能养鸽子吗",
        asker=li,
        urgent=False,
        reason="low_confidence",
        candidates=["faq-garbage-01"],
        now=NOW,
    )
    urgent = questions.create(question="我要找人工", asker=wang, urgent=True, reason="handoff", candidates=[], now=NOW)
    joined = questions.join(first.id, wang, urgent=False)
    assert [a.user_id for a in joined.askers] == ["wxid_li", "wxid_wang"]
    assert [q.id for q in questions.open_questions()] == [urgent.id, first.id]  # urgent first

    reply = OutboundMessage("wechat", "不可以。", group_id="room-3", mention_ids=("wxid_li",))
    answered = questions.answer(first.id, answer="不可以。", by="张主任", now=NOW, replies=[reply])
    assert answered.status is QuestionStatus.ANSWERED and answered.answered_by == "张主任"
    assert [q.message for q in SqlOutbox(sessions).due(now=NOW, limit=10)] == [reply]
    with pytest.raises(QuestionNotOpenError):
        questions.answer(first.id, answer="again", by="x", now=NOW, replies=[reply])
    with pytest.raises(QuestionNotOpenError):
        questions.join(first.id, li, urgent=False)
    assert len(SqlOutbox(sessions).due(now=NOW, limit=10)) == 1
