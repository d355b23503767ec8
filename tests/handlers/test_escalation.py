"""The unanswered-question loop in chat: refused questions reach the staff group, "#n 答：…" reaches every asker."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from bot.app import Application
from bot.domain.escalation import QuestionStatus
from bot.domain.messages import InboundMessage, MessageKind, OutboundMessage
from bot.domain.staff import Actor, Venue
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.services.escalation import is_bare_handoff, parse_staff_answer, parse_staff_close, wants_a_person
from tests.conftest import REPO
from tests.support.clock import FakeClock
from tests.support.services import ready_services

STAFF = "staff@chatroom"
_ids = itertools.count()


class NoGateway:
    async def send(self, message: OutboundMessage) -> None:
        raise AssertionError("nothing is sent in these tests")


@pytest.fixture
def runtime(tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings) -> Application:
    kb = tmp_path / "kb"
    shutil.copytree(REPO / "knowledge", kb)  # staff answers are written into the knowledge base
    services = ready_services(
        tmp_path / "data", use_embeddings, knowledge_dir=kb, clock=FakeClock(), staff_group_id=STAFF
    )
    return services


def say(
    runtime: Application, text: str, *, sender: str, group: str, name: str = "居民", mention: bool = True
) -> list[OutboundMessage]:
    message = InboundMessage(
        message_id=f"e{next(_ids)}",
        channel="wechat",
        sender_id=sender,
        sender_name=name,
        text=text,
        kind=MessageKind.TEXT,
        at=runtime.router._clock.now(),
        group_id=group,
        group_name=group,
        mentions_self=mention,
    )
    return runtime.router.handle(message).replies


def _staff_notices(runtime: Application) -> list[str]:
    due = runtime.outbox.due(now=runtime.router._clock.now(), limit=100)
    return [q.message.text for q in due if q.message.group_id == STAFF]


def test_refused_questions_reach_staff_and_the_answer_reaches_every_asker(runtime: Application) -> None:
    (refusal,) = say(runtime, "小区里能不能养鸽子", sender="wxid_li", group="room-3@chatroom")
    assert "转给社区工作人员" in refusal.text
    say(runtime, "小区里能不能养鸽子啊", sender="wxid_wang", group="room-5@chatroom")  # joins the same question
    (notice,) = _staff_notices(runtime)
    assert notice.startswith("#1 【待答】") and "养鸽子" in notice and "#1 答：" in notice

    (ack,) = say(
        runtime, "#1 答：小区不允许养鸽子，已有的请尽快处理。", sender="wxid_staff", group=STAFF, name="张主任"
    )
    assert ack.group_id == STAFF and ack.text == "已把 #1 的答复发给 2 位居民。"
    due = runtime.outbox.due(now=runtime.router._clock.now(), limit=100)
    answers = [q.message for q in due if q.message.text.startswith("关于您问的")]
    assert {(m.group_id, m.mention_ids) for m in answers} == {
        ("room-3@chatroom", ("wxid_li",)),
        ("room-5@chatroom", ("wxid_wang",)),
    }
    assert all("小区不允许养鸽子" in m.text for m in answers)
    (entry,) = runtime.audit.entries(limit=10, action="question_answered")
    assert (entry.actor, entry.target) == ("微信:张主任", "#1") and "养鸽子" in entry.detail
    (again,) = say(runtime, "#1 答：再答一次", sender="wxid_staff", group=STAFF)
    assert "没有找到待答的 #1" in again.text


def test_staff_close_a_question_from_the_staff_group(runtime: Application) -> None:
    say(runtime, "哈哈哈你们真逗", sender="wxid_wang", group="room-5@chatroom")
    assert runtime.escalation.count(community=None, status=QuestionStatus.OPEN) == 1
    (ack,) = say(runtime, "#1 关闭：闲聊", sender="wxid_staff", group=STAFF, name="张主任")
    assert runtime.escalation.count(community=None, status=QuestionStatus.OPEN) == 0
    assert runtime.escalation.count(community=None, status=QuestionStatus.CLOSED) == 1
    assert ack.text == "已关闭 #1，不会发消息给居民。"
    closed = runtime.escalation.get(1)
    assert closed is not None and closed.status.value == "closed" and closed.answer == "闲聊"
    (again,) = say(runtime, "#1 关闭", sender="wxid_staff", group=STAFF)
    assert "没有找到待答的 #1" in again.text
    assert not [m for m in _staff_notices(runtime) if m.startswith("#1 已由")]  # no echo of a staff-group action
    assert parse_staff_close("#3 关闭") == (3, "") and parse_staff_close("#3 答：关闭") is None


def test_answers_and_closings_from_the_console_are_announced_in_the_staff_group(runtime: Application) -> None:
    say(runtime, "小区里能不能养鸽子", sender="wxid_li", group="room-3@chatroom")
    say(runtime, "哈哈哈你们真逗", sender="wxid_wang", group="room-5@chatroom")
    first, _ = _staff_notices(runtime)
    assert "“room-3@chatroom”群的居民问" in first  # the group's name once WeChat gave one; here the id
    cadre = Actor("李干部", Venue.CONSOLE, username="li")
    runtime.escalation.answer(1, "小区不允许养鸽子。", actor=cadre)
    runtime.escalation.close(2, "闲聊", actor=cadre)
    notices = _staff_notices(runtime)[2:]
    assert notices == ["#1 已由李干部在控制台答复：小区不允许养鸽子", "#2 已由李干部在控制台关闭，不答复：闲聊"]


def test_asking_for_a_person_is_urgent(runtime: Application) -> None:
    (reply,) = say(runtime, "转人工", sender="wxid_zhao", group="room-3@chatroom")
    assert "已通知社区工作人员" in reply.text
    (notice,) = _staff_notices(runtime)
    assert "【急】" in notice
    (question,) = runtime.escalation._questions.open_questions()
    assert question.urgent and question.reason == "handoff"


def test_a_request_for_a_person_carries_what_the_resident_asked_and_is_never_merged(runtime: Application) -> None:
    say(runtime, "小区里能不能养鸽子", sender="wxid_li", group="room-3@chatroom")
    say(runtime, "转人工", sender="wxid_li", group="room-3@chatroom")
    say(runtime, "转人工", sender="wxid_wang", group="room-5@chatroom")
    handoffs = {q.askers[0].user_id: q for q in runtime.escalation._questions.open_questions() if q.urgent}
    assert handoffs["wxid_li"].question == "小区里能不能养鸽子"  # urgent, and staff see what it is about
    assert handoffs["wxid_wang"].question == "转人工" and len(handoffs["wxid_wang"].askers) == 1
    say(runtime, "转人工，我家楼上漏水三天了", sender="wxid_li", group="room-3@chatroom")
    assert any(q.question == "转人工，我家楼上漏水三天了" for q in runtime.escalation._questions.open_questions())
    assert is_bare_handoff("我要转人工！") and is_bare_handoff("找工作人员") and not is_bare_handoff("转人工，水管漏了")


def test_staff_chatter_and_answered_questions_are_not_escalated(runtime: Application) -> None:
    assert say(runtime, "今天大家辛苦了", sender="wxid_staff", group=STAFF) == []
    say(runtime, "灭火器过期了找谁换", sender="wxid_li", group="room-3@chatroom")
    assert _staff_notices(runtime) == []


def test_parsing() -> None:
    assert parse_staff_answer("#12 答：可以。") == (12, "可以。")
    assert parse_staff_answer("＃3答:明天上午") == (3, "明天上午")
    assert parse_staff_answer("#12 答：") is None and parse_staff_answer("12 答：x") is None
    assert wants_a_person("我要转人工") and wants_a_person("找工作人员") and not wants_a_person("工作时间")


def test_an_answer_becomes_a_faq_entry_and_the_next_asker_gets_it(runtime: Application, tmp_path: Path) -> None:
    say(runtime, "小区里能不能养鸽子", sender="wxid_li", group="room-3@chatroom")
    say(runtime, "小区能养鸽子不", sender="wxid_wang", group="room-5@chatroom")
    say(runtime, "小区里能不能养狗", sender="wxid_zhao", group="room-5@chatroom")  # another matter: #2
    (refused,) = say(runtime, "#1 入库", sender="wxid_staff", group=STAFF)
    assert "没能加入知识库" in refused.text
    say(runtime, "#1 答：小区不允许养鸽子，已有的请尽快处理。", sender="wxid_staff", group=STAFF, name="张主任")
    (added,) = say(runtime, "#1 入库", sender="wxid_staff", group=STAFF)
    assert added.text.startswith("已把 #1 加入知识库（faq-staff-1）")
    say(runtime, "#2 答：王师傅明天上午去您家看看。", sender="wxid_staff", group=STAFF)
    (warned,) = say(runtime, "#2 入库", sender="wxid_staff", group=STAFF)
    assert "只针对这一件事" in warned.text and "#2 仍然入库" in warned.text
    assert "faq-staff-2" not in (tmp_path / "kb" / "faq" / "staff-answers.csv").read_text(encoding="utf-8")
    (confirmed,) = say(runtime, "#2 仍然入库", sender="wxid_staff", group=STAFF)
    assert confirmed.text.startswith("已把 #2 加入知识库（faq-staff-2）")
    text = (tmp_path / "kb" / "faq" / "staff-answers.csv").read_text(encoding="utf-8")
    assert "faq-staff-1,小区里能不能养鸽子,小区能养鸽子不,小区不允许养鸽子" in text
    assert "社区工作人员答复（张主任）" in text
    (answer,) = say(runtime, "小区里可以养鸽子吗", sender="wxid_sun", group="room-3@chatroom")
    assert "小区不允许养鸽子" in answer.text and "社区工作人员答复（张主任）" in answer.text


def test_overdue_questions_are_re_notified_once_per_period(runtime: Application) -> None:
    from datetime import timedelta

    say(runtime, "小区里能不能养鸽子", sender="wxid_li", group="room-3@chatroom")
    clock = runtime.router._clock
    assert runtime.escalation.renotify_overdue(older_than=timedelta(hours=1)) == []
    clock.advance(minutes=61)  # type: ignore[attr-defined]
    (reminded,) = runtime.escalation.renotify_overdue(older_than=timedelta(hours=1))
    assert reminded.id == 1
    assert any("【超时未答，1人在等】" in notice for notice in _staff_notices(runtime))
    assert runtime.escalation.renotify_overdue(older_than=timedelta(hours=1)) == []


def test_each_refused_part_of_a_several_question_message_is_escalated(runtime: Application) -> None:
    (reply,) = say(
        runtime,
        "高龄津贴每个月能领多少钱？另外楼道里的灭火器过期了找谁换？小区里能不能养鸽子？",
        sender="wxid_li",
        group="room-3@chatroom",
    )
    assert "3. 关于“小区里能不能养鸽子”：这个问题我暂时答不上来" in reply.text
    (question,) = runtime.escalation._questions.open_questions()
    assert question.question == "小区里能不能养鸽子？"


def test_a_private_question_is_answered_privately(runtime: Application) -> None:
    say(runtime, "小区里能不能养鸽子", sender="wxid_li", group="")
    (notice,) = _staff_notices(runtime)
    assert "私聊的居民问" in notice
    say(runtime, "#1 答：不可以。", sender="wxid_staff", group=STAFF)
    due = runtime.outbox.due(now=runtime.router._clock.now(), limit=100)
    (answer,) = [q.message for q in due if q.message.text.startswith("关于您问的")]
    assert (answer.group_id, answer.user_id, answer.mention_ids) == ("", "wxid_li", ())


def test_a_resident_who_picks_a_choice_gets_the_answer_and_their_question_leaves_the_queue(
    runtime: Application,
) -> None:
    (refusal,) = say(runtime, "食堂", sender="wxid_li", group="room-3@chatroom")
    assert "回复数字" in refusal.text and "\n1. " in refusal.text
    assert runtime.escalation.count(community=None, status=QuestionStatus.OPEN) == 1

    assert say(runtime, "2", sender="wxid_wang", group="room-3@chatroom", mention=False) == []  # not offered to him
    (answer,) = say(runtime, "2", sender="wxid_li", group="room-3@chatroom", mention=False)  # no @ needed
    assert answer.mention_ids == ("wxid_li",) and "（来源：" in answer.text
    (closed,) = runtime.escalation.queue(community=None, status=QuestionStatus.CLOSED)
    assert closed.id == 1 and closed.answer.startswith("居民从候选里选了“") and closed.answered_by == "小助手"
    assert any(n.startswith("#1 已由小助手在群聊关闭") for n in _staff_notices(runtime))


def test_a_pick_leaves_a_question_other_residents_wait_on_open(runtime: Application) -> None:
    say(runtime, "食堂", sender="wxid_li", group="room-3@chatroom")
    say(runtime, "食堂", sender="wxid_wang", group="room-5@chatroom")  # joins the same question
    say(runtime, "1", sender="wxid_li", group="room-3@chatroom")
    (still_open,) = runtime.escalation.queue(community=None, status=QuestionStatus.OPEN)
    assert len(still_open.askers) == 2
