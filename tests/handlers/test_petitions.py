"""Petitions in chat, end to end through the router on both databases: "报事 …" filed at once, a complaint asked to
confirm and filed on "1", the place asked for once, "查询 …" and "我的诉求", and the rows before and after them
unchanged: a question is still answered, a pick among the choices still works."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bot.app import CLOSE_UNANSWERED_PETITIONS, Application, scheduled_jobs
from bot.domain.escalation import QuestionStatus
from bot.domain.messages import OutboundMessage
from bot.domain.petitions import PetitionEvent, PetitionStatus, Recognition, RecognitionKind, Reporter
from bot.domain.staff import Actor, Venue
from bot.handlers.context import Handling
from bot.handlers.router import MessageRouter
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.services.petitions import CONFIRM_TEXT, LOCATION_QUESTION, KeywordTriggers, PetitionDesk
from bot.storage.petitions import SqlPetitions
from tests.handlers.conftest import chat_application, resident_message
from tests.support.clock import FakeClock

FILED = re.compile(r"^已登记您的诉求，编号 (\d{4}-\d{4})。")
CADRE = Actor("李干部", Venue.CONSOLE, username="li")


class ComplaintsToo:
    """The explicit triggers, and as implicit petitions the complaints these tests make (the real recogniser is
    another module's work)."""

    def __init__(self) -> None:
        self._explicit = KeywordTriggers()

    def recognise(self, text: str) -> Recognition:
        said = self._explicit.recognise(text)
        if said.kind is not RecognitionKind.NONE:
            return said
        if "吵架" in text:
            return Recognition(RecognitionKind.IMPLICIT, "邻里纠纷", 0.8, text)
        if re.search(r"坏了|漏水|没人管", text):
            return Recognition(RecognitionKind.IMPLICIT, "设施维修", 0.8, text)
        return said


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def runtime(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> Iterator[Application]:
    """The starter knowledge base behind the router, petitions told apart by ComplaintsToo, on each database."""
    root = tmp_path_factory.mktemp("petitions")
    with chat_application(request.param, root, use_embeddings, classifier=ComplaintsToo()) as application:
        yield application


@pytest.fixture(autouse=True)
def a_new_minute(runtime: Application) -> None:
    """Each test starts past the rate limits' window of the one before."""
    assert isinstance(runtime.clock, FakeClock)
    runtime.clock.advance(minutes=2)


def say(runtime: Application, text: str, *, sender: str, group: str = "room-3", mention: bool = True) -> Handling:
    return runtime.router.handle(resident_message(runtime, text, sender=sender, group=group, mention=mention))


def _reply(handling: Handling) -> OutboundMessage:
    (reply,) = handling.replies
    return reply


def _number(handling: Handling) -> str:
    match = FILED.match(_reply(handling).text)
    assert match is not None, _reply(handling).text
    return match.group(1)


def _open_questions(runtime: Application) -> int:
    return runtime.escalation.count(community=None, status=QuestionStatus.OPEN)


def test_a_petition_said_as_one_is_filed_at_once(runtime: Application) -> None:
    questions = _open_questions(runtime)
    message = resident_message(runtime, "报事 3号楼电梯又坏了，老人下不了楼", sender="wxid_a1", group="room-3")
    filed = runtime.router.handle(message)
    assert filed.outcome == "petition_filed" and filed.recorded and runtime.outbox.seen(message.message_id)
    reply = _reply(filed)
    assert reply.mention_ids == ("wxid_a1",) and LOCATION_QUESTION not in reply.text  # "3号楼" was said
    petition = runtime.petitions.status(_number(filed), _reporter("wxid_a1"))
    assert "（其他）：已登记。“3号楼电梯又坏了，老人下不了楼”" in petition
    assert _open_questions(runtime) == questions  # never in the unanswered queue
    assert runtime.router.handle(message).outcome == "duplicate"  # delivered again: not filed again


def test_a_complaint_is_asked_to_confirm_and_filed_on_1_then_its_place_asked_once(runtime: Application) -> None:
    questions = _open_questions(runtime)
    asked = say(runtime, "楼道灯坏了好几天了", sender="wxid_b1")
    assert (asked.outcome, _reply(asked).text) == ("petition_to_confirm", CONFIRM_TEXT)
    assert _open_questions(runtime) == questions  # not in the FAQ queue, not filed either
    assert runtime.petitions.mine(_reporter("wxid_b1")).startswith("您目前没有在办的诉求")

    confirmed = say(runtime, "1", sender="wxid_b1", mention=False)  # no @ needed for the answer
    assert confirmed.outcome == "petition_filed"
    assert _reply(confirmed).text.endswith(LOCATION_QUESTION)
    number = _number(confirmed)
    assert say(runtime, "1", sender="wxid_b1", mention=False).outcome == "not_addressed"  # nothing waits any more

    located = say(runtime, "5栋2单元", sender="wxid_b1", mention=False)
    assert (located.outcome, _reply(located).text) == (
        "petition_located",
        f"好的，已记下位置：5栋2单元（诉求编号 {number}）。",
    )
    assert say(runtime, "6栋", sender="wxid_b1", mention=False).outcome == "not_addressed"  # asked once
    status = _reply(say(runtime, f"查询 {number}", sender="wxid_b1"))
    assert status.text.startswith(f"诉求 {number}（设施维修）：已登记。“楼道灯坏了好几天了”")


def test_anything_but_1_drops_the_complaint_and_goes_on_as_before(runtime: Application) -> None:
    say(runtime, "楼下水管漏水了", sender="wxid_c1")
    answered = say(runtime, "高龄补贴怎么申请", sender="wxid_c1")
    assert answered.outcome == "answered"  # answered as before, and the complaint dropped
    assert say(runtime, "1", sender="wxid_c1", mention=False).outcome == "not_addressed"
    assert runtime.petitions.mine(_reporter("wxid_c1")).startswith("您目前没有在办的诉求")


def test_chit_chat_gets_a_short_reply_never_the_staff_queue_and_complaints_still_count(runtime: Application) -> None:
    questions = _open_questions(runtime)
    for text, reason in (("谢谢啊 小助手你真好", "thanks"), ("在吗 有个事想问问", "ask"), ("1", "number")):
        handling = say(runtime, text, sender="wxid_chat")
        assert handling.outcome == f"replied:small_talk:{reason}", text
        assert "工作人员" not in _reply(handling).text
    assert _open_questions(runtime) == questions  # none of it reached staff
    asked = say(runtime, "谢谢，楼道灯坏了好几天了", sender="wxid_chat")
    assert asked.outcome == "petition_to_confirm"  # thanks around a complaint: still a complaint
    confirmed = say(runtime, "1", sender="wxid_chat")  # "1" with an @ while a complaint waits: confirms it
    assert confirmed.outcome == "petition_filed"


def test_a_question_is_answered_unchanged(runtime: Application) -> None:
    handling = say(runtime, "高龄补贴怎么申请", sender="wxid_d1")
    assert handling.outcome == "answered" and CONFIRM_TEXT not in _reply(handling).text
    assert "（来源：" in _reply(handling).text


def test_status_queries_and_my_cases(runtime: Application) -> None:
    first = _number(say(runtime, "报事 小区门口垃圾三天没人清", sender="wxid_e1"))
    second = _number(say(runtime, "#诉求 3号楼楼道堆满杂物", sender="wxid_e1"))
    mine = _reply(say(runtime, "我的诉求", sender="wxid_e1"))
    assert mine.text.startswith("您在办的诉求：\n") and mine.text.index(second) < mine.text.index(first)
    assert _reply(say(runtime, f"查询 {first}", sender="wxid_e1")).text.startswith(f"诉求 {first}（其他）：已登记。")
    other = _reply(say(runtime, f"查询 {first}", sender="wxid_e2"))  # someone else's case is not told
    assert other.text.startswith(f"没有找到您登记的编号为 {first} 的诉求")


def test_a_pick_among_the_choices_still_works_beside_a_complaint_waiting(runtime: Application) -> None:
    refusal = _reply(say(runtime, "食堂", sender="wxid_f1", group="room-8"))
    assert "回复数字" in refusal.text
    say(runtime, "电梯坏了", sender="wxid_f2", group="room-8")  # another resident's complaint waits for "1"
    picked = say(runtime, "2", sender="wxid_f1", group="room-8", mention=False)
    assert picked.outcome == "answered" and "（来源：" in _reply(picked).text
    filed = say(runtime, "1", sender="wxid_f2", group="room-8", mention=False)
    assert filed.outcome == "petition_filed"
    # Choices offered, then a complaint: "1" answers the last thing asked, the confirmation.
    _reply(say(runtime, "食堂", sender="wxid_f3", group="room-8"))
    say(runtime, "水管漏水了", sender="wxid_f3", group="room-8")
    assert say(runtime, "1", sender="wxid_f3", group="room-8", mention=False).outcome == "petition_filed"


def test_a_complaint_waiting_for_1_survives_a_restart(runtime: Application) -> None:
    say(runtime, "电梯又坏了", sender="wxid_g1")
    restarted = MessageRouter(  # a new process: nothing of the first one's memory, the same database
        runtime.assistant,
        runtime.groups,
        runtime.outbox,
        runtime.clock,
        bot_names=("社区小助手",),
        escalation=runtime.escalation,
        petitions=PetitionDesk(SqlPetitions(runtime.sessions), ComplaintsToo(), runtime.clock, audit=runtime.audit),
    )
    confirmed = restarted.handle(resident_message(runtime, "1", sender="wxid_g1", group="room-3", mention=False))
    assert confirmed.outcome == "petition_filed"


def test_a_move_tells_the_resident_once_and_a_neighbour_dispute_privately(runtime: Application) -> None:
    lift = _number(say(runtime, "报事 9号楼电梯坏了", sender="wxid_h1"))
    say(runtime, "邻居天天吵架", sender="wxid_h2")
    dispute = _number(say(runtime, "1", sender="wxid_h2", mention=False))
    for number in (lift, dispute):
        moved = runtime.petitions.move(number, PetitionEvent.ACCEPT, actor=CADRE)
        assert moved.status is PetitionStatus.ACCEPTED
    notices = [
        q.message
        for q in runtime.outbox.due(now=runtime.clock.now(), limit=500)
        if q.source.startswith("petition:") and "已受理" in q.message.text
    ]
    told = {(m.group_id, m.user_id, m.mention_ids) for m in notices if lift in m.text or dispute in m.text}
    assert told == {("room-3", "", ("wxid_h1",)), ("", "wxid_h2", ())}
    assert len([m for m in notices if lift in m.text or dispute in m.text]) == 2  # once each


def _reporter(user_id: str, group: str = "room-3") -> Reporter:
    return Reporter("wechat", group, group, user_id, "居民")


def test_a_new_petition_is_not_taken_for_the_place_of_the_last_one(runtime: Application) -> None:
    first = say(runtime, "报事 电梯坏了", sender="wxid_i1")
    assert _reply(first).text.endswith(LOCATION_QUESTION)
    second = say(runtime, "报事 5号楼门禁坏了", sender="wxid_i1")
    assert second.outcome == "petition_filed" and _number(second) != _number(first)
    located = say(runtime, "就在3号楼", sender="wxid_i1", mention=False)
    assert _reply(located).text == f"好的，已记下位置：就在3号楼（诉求编号 {_number(first)}）。"


def test_the_scheduled_job_closes_what_the_resident_left_unanswered(runtime: Application) -> None:
    number = _number(say(runtime, "报事 7号楼楼道灯不亮", sender="wxid_j1"))
    for step in (PetitionEvent.ACCEPT, PetitionEvent.DISPATCH, PetitionEvent.START, PetitionEvent.RESOLVE):
        runtime.petitions.move(number, step, actor=CADRE, note="已换灯泡" if step is PetitionEvent.RESOLVE else "")
    assert isinstance(runtime.clock, FakeClock)
    runtime.clock.advance(days=7, minutes=1)
    job = scheduled_jobs(
        runtime.settings,
        runtime.escalation,
        runtime.petitions,
        runtime.deadlines,
        runtime.expiry,
        runtime.elderly,
        lambda: runtime.notices,
    )[CLOSE_UNANSWERED_PETITIONS]
    job()
    status = _reply(say(runtime, f"查询 {number}", sender="wxid_j1"))
    assert status.text.startswith(f"诉求 {number}（其他）：已关闭。")
