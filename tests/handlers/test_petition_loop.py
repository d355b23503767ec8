"""The petition loop in chat, end to end through the router on both databases: a case filed in a group is told to
the staff group once; staff move it from there ("2026-0012 受理", "… 派单 物业", "… 办结：…"), the resident told of
each move once; the resident rates it (closed, the rating kept) or says "没解决" (reopened). A resident cannot move
a case, nor answer somebody else's; a wrong move gets its reason; the unanswered-question commands still work."""

from __future__ import annotations

import re

import pytest

from bot.app import Application
from bot.domain.messages import OutboundMessage
from bot.domain.petitions import Petition, PetitionStatus, Rating, Recognition, RecognitionKind, Reporter
from bot.domain.staff import ASSISTANT
from bot.handlers.context import Handling
from bot.services.petitions import RATE_PROMPT, parse_staff_move, parse_verdict
from bot.storage.petitions import SqlPetitions
from tests.handlers.conftest import STAFF_GROUP, resident_message
from tests.support.clock import FakeClock

FILED = re.compile(r"^已登记您的诉求，编号 (\d{4}-\d{4})。")
GROUP = "room-loop"


@pytest.fixture(autouse=True)
def a_new_minute(chat_runtime: Application) -> None:
    """Each test starts past the rate limits' window of the one before."""
    assert isinstance(chat_runtime.clock, FakeClock)
    chat_runtime.clock.advance(minutes=2)


def say(runtime: Application, text: str, *, sender: str, group: str = GROUP, mention: bool = True) -> Handling:
    return runtime.router.handle(resident_message(runtime, text, sender=sender, group=group, mention=mention))


def staff(runtime: Application, text: str) -> str:
    """What the staff group is told back when a staff member says text there."""
    handling = say(runtime, text, sender="wxid_staff_wang", group=STAFF_GROUP, mention=False)
    (reply,) = handling.replies
    assert reply.group_id == STAFF_GROUP
    return reply.text


def file(runtime: Application, text: str, *, sender: str) -> str:
    handling = say(runtime, text, sender=sender)
    (reply,) = handling.replies
    match = FILED.match(reply.text)
    assert match is not None, reply.text
    return match.group(1)


def case(runtime: Application, number: str) -> Petition:
    petition = SqlPetitions(runtime.sessions).get(number)
    assert petition is not None
    return petition


def queued(runtime: Application, number: str) -> list[OutboundMessage]:
    """Every message about case number still in the outbox, oldest first."""
    due = runtime.outbox.due(now=runtime.clock.now(), limit=10_000)
    return [q.message for q in due if number in q.message.text]


def to_staff(runtime: Application, number: str) -> list[str]:
    return [m.text for m in queued(runtime, number) if m.group_id == STAFF_GROUP]


def to_resident(runtime: Application, number: str) -> list[OutboundMessage]:
    return [m for m in queued(runtime, number) if m.group_id != STAFF_GROUP and not FILED.match(m.text)]


def resolve(runtime: Application, number: str) -> None:
    for step in ("受理", "派单 物业", "处理中", "办结：已修好"):
        assert "已告诉居民" in staff(runtime, f"{number} {step}")


def test_the_parsers() -> None:
    move = parse_staff_move("２０２６－12 办结：电梯已修好")
    assert move is not None and (move.number, move.event.value, move.note) == ("2026-0012", "resolve", "电梯已修好")
    rejected = parse_staff_move("2026-0012 不予受理：不归社区管")
    assert rejected is not None and (rejected.event.value, rejected.note) == ("reject", "不归社区管")
    assert parse_staff_move("2026-0012 怎么还没处理") is None and parse_staff_move("#12 答：可以") is None
    assert parse_verdict("基本满意") == parse_verdict("基本满意。")
    satisfied = parse_verdict("2026-0003 满意")
    assert satisfied is not None and (satisfied.rating, satisfied.number) == (Rating.SATISFIED, "2026-0003")
    reopened = parse_verdict("还没解决")
    assert reopened is not None and reopened.rating is None
    assert parse_verdict("满意的话我再说") is None


def test_a_filed_case_reaches_staff_once_and_staff_move_it_the_resident_told_each_time(
    chat_runtime: Application,
) -> None:
    message = resident_message(chat_runtime, "报事 3号楼电梯坏了好几天", sender="wxid_l1", group=GROUP)
    (reply,) = chat_runtime.router.handle(message).replies
    filed = FILED.match(reply.text)
    assert filed is not None
    number = filed.group(1)
    assert chat_runtime.router.handle(message).outcome == "duplicate"
    (notice,) = to_staff(chat_runtime, number)  # once, though delivered twice
    assert notice.startswith(f"【诉求 {number}】“{GROUP}”群的居民反映：3号楼电梯坏了好几天（")
    assert f"回复“{number} 受理”受理" in notice

    assert staff(chat_runtime, f"{number} 受理") == f"诉求 {number} 受理，现在是“已受理”，已告诉居民。"
    assert staff(chat_runtime, f"{number} 派单 物业") == (f"诉求 {number} 派单（物业），现在是“已派单”，已告诉居民。")
    assert case(chat_runtime, number).department == "物业"
    staff(chat_runtime, f"{number} 处理中")
    staff(chat_runtime, f"{number} 办结：电梯已修好")
    told = to_resident(chat_runtime, number)
    assert len(told) == 4  # each move once
    assert all((m.group_id, m.mention_ids, m.user_id) == (GROUP, ("wxid_l1",), "") for m in told)
    assert "已受理" in told[0].text and "已派给相关部门处理" in told[1].text and "正在处理中" in told[2].text
    assert told[3].text.startswith(RATE_PROMPT) and "已办结：电梯已修好。" in told[3].text
    assert case(chat_runtime, number).status is PetitionStatus.RESOLVED


def test_the_resident_rates_a_resolved_case_and_it_is_closed_with_the_rating(chat_runtime: Application) -> None:
    number = file(chat_runtime, "报事 5号楼路灯不亮", sender="wxid_l2")
    resolve(chat_runtime, number)
    assert say(chat_runtime, "满意", sender="wxid_other", mention=False).outcome == "not_addressed"  # not theirs
    assert case(chat_runtime, number).status is PetitionStatus.RESOLVED

    message = resident_message(chat_runtime, "基本满意", sender="wxid_l2", group=GROUP, mention=False)  # no @ needed
    rated = chat_runtime.router.handle(message)
    assert rated.outcome == "petition_rated" and rated.recorded and chat_runtime.outbox.seen(message.message_id)
    assert chat_runtime.router.handle(message).outcome == "duplicate"  # marked handled with the move
    closed = case(chat_runtime, number)
    assert (closed.status, closed.rating) == (PetitionStatus.CLOSED, Rating.FAIR)
    assert to_resident(chat_runtime, number)[-1].text.endswith("已关闭，感谢您的反映。")
    assert to_staff(chat_runtime, number)[-1] == f"【诉求 {number}】居民评价：基本满意，已关闭。"
    assert say(chat_runtime, "满意", sender="wxid_l2", mention=False).outcome == "not_addressed"  # only once


def test_not_fixed_reopens_the_case_and_staff_take_it_up_again(chat_runtime: Application) -> None:
    number = file(chat_runtime, "报事 2号楼楼道漏水", sender="wxid_l3")
    resolve(chat_runtime, number)
    reopened = say(chat_runtime, f"{number} 没解决", sender="wxid_l3")
    assert reopened.outcome == "petition_reopened"
    assert case(chat_runtime, number).status is PetitionStatus.REOPENED
    assert to_resident(chat_runtime, number)[-1].text.endswith("已重新办理，我们会尽快处理。")
    assert to_staff(chat_runtime, number)[-1].startswith(f"【诉求 {number}】居民说问题没解决，已重新办理。")
    assert staff(chat_runtime, f"{number} 处理中").endswith("现在是“处理中”，已告诉居民。")


def test_a_dispatch_naming_nobody_goes_to_the_category_s_department_and_staff_escalate(
    chat_runtime: Application,
) -> None:
    chat_runtime.routing.save_department("物业", "wy@chatroom", "", street_office=False, actor=ASSISTANT)
    chat_runtime.routing.save_department("街道办", "", "street-key", street_office=True, actor=ASSISTANT)
    try:
        number = file(chat_runtime, "报事 12号楼电梯坏了一整天", sender="wxid_l9")
        (notice,) = to_staff(chat_runtime, number)
        assert f"“{number} 派单”派给物业" in notice and f"“{number} 吹哨：原因”" in notice
        staff(chat_runtime, f"{number} 受理")
        assert staff(chat_runtime, f"{number} 派单") == f"诉求 {number} 派单（物业），现在是“已派单”，已告诉居民。"
        (dispatched,) = [m for m in queued(chat_runtime, number) if m.group_id == "wy@chatroom"]
        assert dispatched.text.startswith(f"【派单 {number}】")
        reply = staff(chat_runtime, f"{number} 吹哨：需要城管和住建一起处理")
        assert reply == f"诉求 {number} 已吹哨：需要城管和住建一起处理；已通知：街道办（企业微信群机器人）。"
        (whistle,) = [m for m in queued(chat_runtime, number) if m.group_id == "street-key"]
        assert whistle.channel == "wecom" and "需要城管和住建一起处理" in whistle.text and "吹哨，请街道协调" in whistle.text
        assert not [m for m in queued(chat_runtime, number) if m.group_id == GROUP and "街道" in m.text]  # not told
        assert case(chat_runtime, number).status is PetitionStatus.DISPATCHED
    finally:
        chat_runtime.routing.remove_department("街道办", actor=ASSISTANT)
        chat_runtime.routing.remove_department("物业", actor=ASSISTANT)


def test_a_department_s_handlers_start_and_resolve_its_cases_in_its_own_group(chat_runtime: Application) -> None:
    chat_runtime.routing.save_department("物业", "wy@chatroom", "", street_office=False, actor=ASSISTANT)
    try:
        mine = file(chat_runtime, "报事 14号楼水管漏水", sender="wxid_l10")
        theirs = file(chat_runtime, "报事 15号楼水管漏水", sender="wxid_l11")
        for number, department in ((mine, "物业"), (theirs, "城管科")):
            staff(chat_runtime, f"{number} 受理")
            staff(chat_runtime, f"{number} 派单 {department}")

        def in_department(text: str) -> Handling:
            return say(chat_runtime, text, sender="wxid_wy_zhou", group="wy@chatroom", mention=False)

        chatter = in_department("收到，明天去看")
        assert chatter.outcome == "department_chatter" and chatter.replies == []
        refused = in_department(f"{mine} 合并 {theirs}")
        assert refused.replies[0].text.startswith(f"没能办理：部门群里请回复“{mine} 处理中”")
        other = in_department(f"{theirs} 处理中")
        assert other.replies[0].text == f"没能办理：没有派给物业的诉求 {theirs}。"
        assert case(chat_runtime, theirs).status is PetitionStatus.DISPATCHED
        started = in_department(f"{mine} 处理中")
        assert started.replies[0].text == f"诉求 {mine} 开始处理，现在是“处理中”，已告诉居民。"
        resolved = in_department(f"{mine} 办结：阀门已换")
        assert resolved.outcome == "department_petition_moved"
        assert case(chat_runtime, mine).status is PetitionStatus.RESOLVED
        told = [m.text for m in queued(chat_runtime, mine) if m.group_id == GROUP]
        assert "已办结：阀门已换。" in told[-1]
    finally:
        chat_runtime.routing.remove_department("物业", actor=ASSISTANT)


def test_a_resident_cannot_move_a_case(chat_runtime: Application) -> None:
    number = file(chat_runtime, "报事 8号楼门禁坏了", sender="wxid_l4")
    handling = say(chat_runtime, f"{number} 受理", sender="wxid_l4")
    assert not handling.outcome.startswith("staff_")
    assert case(chat_runtime, number).status is PetitionStatus.SUBMITTED


def test_a_wrong_move_gets_its_reason(chat_runtime: Application) -> None:
    number = file(chat_runtime, "报事 9号楼电梯异响", sender="wxid_l5")
    assert staff(chat_runtime, f"{number} 办结：好了") == f"没能办理：诉求 {number} 现在是“已登记”，不能办结。"
    assert staff(chat_runtime, f"{number} 不予受理").startswith("没能办理：不予受理要写明原因")
    assert staff(chat_runtime, f"{number} 派单") == f"没能办理：诉求 {number} 现在是“已登记”，不能派单。"
    assert staff(chat_runtime, f"{number} 吹哨").startswith("没能办理：吹哨要写明原因")
    assert staff(chat_runtime, f"{number} 吹哨：要城管来").startswith("没能办理：还没有设置街道（吹哨对象）")
    assert staff(chat_runtime, "2026-9999 受理") == "没能办理：没有找到编号为 2026-9999 的诉求。"
    assert staff(chat_runtime, f"{number} 合并 {number}").startswith("没能办理：没有可以并入的诉求")
    assert case(chat_runtime, number).status is PetitionStatus.SUBMITTED
    assert to_resident(chat_runtime, number) == []  # told nothing

    other = file(chat_runtime, "报事 9号楼电梯老是响", sender="wxid_l6")
    assert staff(chat_runtime, f"{other} 合并 {number}").startswith(f"诉求 {other} 合并（并入诉求 {number}）")
    assert case(chat_runtime, other).status is PetitionStatus.MERGED
    assert f"合并办理：并入诉求 {number}" in to_resident(chat_runtime, other)[-1].text
    rejected = staff(chat_runtime, f"{number} 不予受理：电梯归物业公司维保")
    assert rejected.endswith("现在是“不予受理”，已告诉居民。")
    assert to_resident(chat_runtime, number)[-1].text.endswith("不予受理，原因：电梯归物业公司维保。")


def test_a_neighbour_dispute_is_told_privately(chat_runtime: Application) -> None:
    desk = chat_runtime.petitions
    reporter = Reporter("wechat", GROUP, GROUP, "wxid_l7", "居民")
    recognition = Recognition(RecognitionKind.EXPLICIT, "邻里纠纷", 1.0, "楼上邻居半夜吵闹")
    filing = desk.file(desk.draft(recognition, reporter, origin="loop-private"))
    assert filing.petition is not None
    number = filing.petition.number
    assert len(to_staff(chat_runtime, number)) == 1
    staff(chat_runtime, f"{number} 受理")
    (told,) = to_resident(chat_runtime, number)
    assert (told.group_id, told.user_id, told.mention_ids) == ("", "wxid_l7", ())


def test_the_unanswered_question_commands_still_work(chat_runtime: Application) -> None:
    assert staff(chat_runtime, "#9999 答：可以办理") == "没有找到待答的 #9999（可能已经答过了）。"
    assert staff(chat_runtime, "#9999 关闭") == "没有找到待答的 #9999（可能已经处理过了）。"
    chatter = say(chat_runtime, "大家辛苦了", sender="wxid_staff_wang", group=STAFF_GROUP, mention=False)
    assert chatter.outcome == "staff_chatter"
