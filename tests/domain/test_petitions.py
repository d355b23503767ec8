"""The petition workflow over every (status, event) pair, and the small rules petitions rest on: the explicit
triggers, case numbers, places and urgency."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.petitions import (
    PETITION_WORKFLOW,
    Petition,
    PetitionEvent,
    PetitionMoveRefused,
    PetitionStatus,
    RecognitionKind,
    Reporter,
    Urgency,
    case_number,
    find_case_number,
    find_location,
    urgency_of,
)
from bot.services.petitions import KeywordTriggers, PetitionQuery, is_confirmation, parse_query

S, E = PetitionStatus, PetitionEvent
# Written out on its own, so a change to the table is a change here too.
ALLOWED = {
    (S.SUBMITTED, E.ACCEPT): S.ACCEPTED,
    (S.ACCEPTED, E.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, E.START): S.IN_PROGRESS,
    (S.IN_PROGRESS, E.RESOLVE): S.RESOLVED,
    (S.RESOLVED, E.CLOSE): S.CLOSED,
    (S.RESOLVED, E.EXPIRE): S.CLOSED,
    (S.SUBMITTED, E.REJECT): S.REJECTED,
    (S.ACCEPTED, E.REJECT): S.REJECTED,
    (S.SUBMITTED, E.MERGE): S.MERGED,
    (S.ACCEPTED, E.MERGE): S.MERGED,
    (S.DISPATCHED, E.MERGE): S.MERGED,
    (S.RESOLVED, E.REOPEN): S.REOPENED,
    (S.REOPENED, E.START): S.IN_PROGRESS,
    (S.REOPENED, E.DISPATCH): S.DISPATCHED,
    # 吹哨 keeps the status: a recorded move of a case still being worked on
    (S.SUBMITTED, E.ESCALATE): S.SUBMITTED,
    (S.ACCEPTED, E.ESCALATE): S.ACCEPTED,
    (S.DISPATCHED, E.ESCALATE): S.DISPATCHED,
    (S.IN_PROGRESS, E.ESCALATE): S.IN_PROGRESS,
    (S.REOPENED, E.ESCALATE): S.REOPENED,
    # a note (an outside system's news through Open311) keeps the status of any case not settled
    **{(s, E.NOTE): s for s in (S.SUBMITTED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.RESOLVED, S.REOPENED)},
}


@pytest.mark.parametrize(("status", "event"), list(itertools.product(PetitionStatus, PetitionEvent)))
def test_every_status_and_event_pair_moves_as_the_table_says_or_is_refused(
    status: PetitionStatus, event: PetitionEvent
) -> None:
    target = ALLOWED.get((status, event))
    if target is not None:
        assert PETITION_WORKFLOW.next(status, event) is target
        assert event in PETITION_WORKFLOW.allowed_events(status)
        return
    with pytest.raises(PetitionMoveRefused) as refused:
        PETITION_WORKFLOW.next(status, event, entity_id=7)
    assert refused.value.status == status and refused.value.event == event
    assert str(refused.value) == f"诉求 #7 现在是“{status.label}”，不能{event.label}"
    assert event not in PETITION_WORKFLOW.allowed_events(status)


def test_settled_cases_allow_nothing_and_every_status_can_be_reached() -> None:
    for status in PetitionStatus:
        assert (not PETITION_WORKFLOW.allowed_events(status)) == status.settled
    reachable = {S.SUBMITTED} | set(ALLOWED.values())
    assert reachable == set(PetitionStatus)
    assert [s.label for s in PetitionStatus] == [
        "已登记",
        "已受理",
        "已派单",
        "处理中",
        "已办结",
        "已关闭",
        "不予受理",
        "已合并",
        "重新办理",
    ]


@pytest.mark.parametrize(
    ("text", "kind", "rest"),
    [
        ("报事 3号楼电梯坏了", RecognitionKind.EXPLICIT, "3号楼电梯坏了"),
        ("报事：楼道灯不亮", RecognitionKind.EXPLICIT, "楼道灯不亮"),
        ("#诉求 小区门口垃圾三天没人清", RecognitionKind.EXPLICIT, "小区门口垃圾三天没人清"),
        ("＃诉求 楼上天天半夜装修", RecognitionKind.EXPLICIT, "楼上天天半夜装修"),
        ("我要反映一下停车位被占的事", RecognitionKind.EXPLICIT, "停车位被占的事"),
        ("投诉物业不管事", RecognitionKind.EXPLICIT, "物业不管事"),
        ("我要投诉，楼下餐馆油烟太大", RecognitionKind.EXPLICIT, "楼下餐馆油烟太大"),
        ("报事", RecognitionKind.EXPLICIT, ""),
        ("投诉电话是多少", RecognitionKind.NONE, None),
        ("怎么投诉物业", RecognitionKind.NONE, None),
        ("3号楼电梯又坏了", RecognitionKind.NONE, None),  # a complaint, but not said as a petition
        ("高龄补贴怎么申请", RecognitionKind.NONE, None),
    ],
)
def test_the_explicit_triggers_alone_make_a_petition(text: str, kind: RecognitionKind, rest: str | None) -> None:
    recognition = KeywordTriggers().recognise(text)
    assert recognition.kind is kind
    if rest is not None:
        assert (recognition.text, recognition.category, recognition.score) == (rest, "其他", 1.0)


def test_case_numbers_queries_and_confirmations() -> None:
    assert case_number(2026, 12) == "2026-0012" and case_number(2026, 12345) == "2026-12345"
    assert find_case_number("查询 2026-0012") == "2026-0012"
    assert find_case_number("查询２０２６－１２") == "2026-0012"
    assert find_case_number("查一下 2026 - 7 的进展") == "2026-0007"
    assert find_case_number("电梯坏了") is None
    assert parse_query("查询 2026-0012") == PetitionQuery("2026-0012")
    assert parse_query("我的诉求") == PetitionQuery(None) == parse_query("查看我的诉求？")
    assert parse_query("查询高龄补贴") is None and parse_query("2026-0012") is None
    assert all(is_confirmation(t) for t in ("1", "１", " 1。", "确认", "登记"))
    assert not any(is_confirmation(t) for t in ("2", "11", "1号楼", "好的", "不用了"))


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("3号楼电梯又坏了，老人下不了楼", "3号楼"),
        ("5栋2单元楼道灯不亮", "5栋2单元"),
        ("3-2-301漏水", "3-2-301"),
        ("小区门口垃圾三天没人清", "小区门口"),
        ("十二号楼 三单元 1201室", "十二号楼 三单元 1201室"),
        ("垃圾从12月3号就没人清", ""),
        ("楼道灯坏了好几天了", ""),
        ("我家门口有人乱堆东西", ""),
        ("地下车库积水", "地下车库"),
        ("楼上天天半夜装修", ""),
        ("电梯坏了", ""),
    ],
)
def test_places_are_found_as_residents_write_them(text: str, place: str) -> None:
    assert find_location(text) == place


def test_urgency_and_how_a_reporter_is_told() -> None:
    assert urgency_of("3号楼电梯又坏了，老人下不了楼") is Urgency.URGENT
    assert urgency_of("楼道里有燃气味") is Urgency.URGENT
    assert urgency_of("楼道灯不亮") is Urgency.NORMAL
    in_group = Reporter("wechat", "room-3", "3号楼群", "wxid_li", "李阿姨")
    assert in_group.told("好").group_id == "room-3" and in_group.told("好").mention_ids == ("wxid_li",)
    private = in_group.told("好", privately=True)
    assert (private.group_id, private.user_id, private.mention_ids) == ("", "wxid_li", ())
    alone = Reporter("wechat", "", "", "wxid_li", "李阿姨").told("好")
    assert (alone.group_id, alone.user_id) == ("", "wxid_li")


def test_a_case_is_overdue_only_past_its_deadline_and_until_it_is_resolved() -> None:
    filed = datetime(2026, 11, 1, tzinfo=UTC)
    reporter = Reporter("wechat", "g1", "幸福里3号楼", "u1", "李四")
    case = Petition(
        1,
        "2026-0001",
        "设施维修",
        "电梯坏了",
        "3号楼",
        reporter,
        Urgency.NORMAL,
        S.DISPATCHED,
        filed,
        filed,
        "m1",
        due_at=filed + timedelta(days=3),
    )
    assert not case.overdue(filed + timedelta(days=3))
    assert case.overdue(filed + timedelta(days=3, seconds=1))
    assert not replace(case, due_at=None).overdue(filed + timedelta(days=30))
    late = filed + timedelta(days=4)
    assert [s for s in PetitionStatus if replace(case, status=s).overdue(late)] == [
        S.SUBMITTED,
        S.ACCEPTED,
        S.DISPATCHED,
        S.IN_PROGRESS,
        S.REOPENED,
    ]
