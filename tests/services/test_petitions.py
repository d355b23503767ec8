"""The petition desk on both databases: the number told only with the case stored, the year counted in local time,
moves told to the resident once (privately for sensitive categories) and audited once, the status a resident may
ask, and resolved cases closed after days without an answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.petitions import (
    OPEN311_CHANNEL,
    PAGE_CHANNEL,
    BoardFilter,
    PetitionDraft,
    PetitionEvent,
    PetitionMoveRefused,
    PetitionNotFoundError,
    PetitionStatus,
    ReasonRequiredError,
    Receipt,
    Recognition,
    RecognitionKind,
    Reporter,
)
from bot.domain.staff import Actor, Venue
from bot.services.audit import StaffAudit
from bot.services.petitions import LOCATION_QUESTION, KeywordTriggers, PetitionDesk
from bot.services.safety import SensitiveWords
from bot.storage.channel import SqlOutbox
from bot.storage.petitions import SqlPetitions
from bot.storage.staff import SqlAuditLog
from tests.support.clock import FakeClock

LI = Reporter("wechat", "room-3", "3号楼群", "wxid_li", "李阿姨")
CADRE = Actor("李干部", Venue.CONSOLE, username="li")


@pytest.fixture
def desk_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def desk(sessions: sessionmaker[Session], desk_clock: FakeClock) -> PetitionDesk:
    return PetitionDesk(
        SqlPetitions(sessions),
        KeywordTriggers(),
        desk_clock,
        audit=StaffAudit(SqlAuditLog(sessions), desk_clock),
        close_after=timedelta(days=7),
        private_categories=("邻里纠纷",),
        sensitive=SensitiveWords(["赌博"]),
    )


def _draft(
    desk: PetitionDesk, text: str, origin: str, *, category: str = "设施维修", reporter: Reporter = LI
) -> PetitionDraft:
    return desk.draft(Recognition(RecognitionKind.EXPLICIT, category, 1.0, text), reporter, origin=origin)


def _outbox_texts(sessions: sessionmaker[Session], clock: FakeClock) -> list[str]:
    return [q.message.text for q in SqlOutbox(sessions).due(now=clock.now(), limit=100)]


def test_the_number_is_told_with_the_case_stored_and_the_place_asked_when_missing(
    desk: PetitionDesk, sessions: sessionmaker[Session], desk_clock: FakeClock
) -> None:
    draft = _draft(desk, "3号楼电梯坏了，联系我13912345678", "m1")
    assert draft.location == "3号楼" and "13912345678" not in draft.description
    filing = desk.file(draft, receipt=Receipt("m1", "petition_filed"))
    assert filing.petition is not None and filing.petition.number == "2026-0001"
    (reply,) = filing.replies
    assert reply.text == "已登记您的诉求，编号 2026-0001。我们会尽快处理，发“查询 2026-0001”可以看进展。"
    assert reply.mention_ids == ("wxid_li",)

    unplaced = desk.file(_draft(desk, "电梯坏了", "m2"), receipt=Receipt("m2", "petition_filed"))
    assert unplaced.replies[0].text.endswith(LOCATION_QUESTION)
    assert _outbox_texts(sessions, desk_clock) == [reply.text, unplaced.replies[0].text]


def test_the_year_of_a_number_is_the_local_one(desk: PetitionDesk, desk_clock: FakeClock) -> None:
    desk_clock.current = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January in China
    filed = desk.file(_draft(desk, "3号楼电梯坏了", "m1")).petition
    assert filed is not None and filed.number == "2027-0001"


def test_a_move_tells_the_resident_once_in_their_group_and_is_audited_once(
    desk: PetitionDesk, sessions: sessionmaker[Session], desk_clock: FakeClock
) -> None:
    filed = desk.file(_draft(desk, "3号楼电梯坏了", "m1")).petition
    assert filed is not None
    accepted = desk.move(filed.number, PetitionEvent.ACCEPT, actor=CADRE, note="已通知物业")
    assert accepted.status is PetitionStatus.ACCEPTED and accepted.note == "已通知物业"
    due = SqlOutbox(sessions).due(now=desk_clock.now(), limit=10)
    (notice,) = due
    assert notice.message.text == "您反映的“3号楼电梯坏了”（编号 2026-0001）已受理，我们会尽快安排处理。"
    assert (notice.message.group_id, notice.message.mention_ids, notice.source) == (
        "room-3",
        ("wxid_li",),
        f"petition:{filed.id}",
    )
    with pytest.raises(PetitionMoveRefused, match="诉求 2026-0001 现在是“已受理”，不能受理"):
        desk.move(filed.number, PetitionEvent.ACCEPT, actor=CADRE)
    assert len(SqlOutbox(sessions).due(now=desk_clock.now(), limit=10)) == 1  # the refused move told nobody
    (entry,) = StaffAudit(SqlAuditLog(sessions), desk_clock).entries(limit=10, action="petition_moved")
    assert (entry.actor, entry.target, entry.detail) == ("li", "2026-0001", "受理：已通知物业")

    with pytest.raises(ReasonRequiredError):
        desk.move(filed.number, PetitionEvent.REJECT, actor=CADRE)
    with pytest.raises(PetitionNotFoundError):
        desk.move("2026-0099", PetitionEvent.ACCEPT, actor=CADRE)


def test_a_sensitive_case_is_told_privately(
    desk: PetitionDesk, sessions: sessionmaker[Session], desk_clock: FakeClock
) -> None:
    filed = desk.file(_draft(desk, "楼上邻居天天吵架扰民", "m1", category="邻里纠纷")).petition
    assert filed is not None
    desk.move(filed.number, PetitionEvent.REJECT, actor=CADRE, note="请先找调解委员会")
    (notice,) = SqlOutbox(sessions).due(now=desk_clock.now(), limit=10)
    assert (notice.message.group_id, notice.message.user_id, notice.message.mention_ids) == ("", "wxid_li", ())
    assert notice.message.text.endswith("不予受理，原因：请先找调解委员会。")
    assert desk.status(filed.number, LI) == "编号 2026-0001 的诉求请私聊我查询。"
    privately = Reporter("wechat", "", "", "wxid_li", "李阿姨")
    assert desk.status(filed.number, privately).startswith("诉求 2026-0001（邻里纠纷）：不予受理。")
    assert desk.status(filed.number, privately).endswith("说明：请先找调解委员会")


def test_status_and_my_cases_tell_only_the_residents_own(desk: PetitionDesk) -> None:
    desk.file(_draft(desk, "3号楼电梯坏了", "m1"))
    desk.file(_draft(desk, "小区门口垃圾三天没人清", "m2", category="环境卫生"))
    desk.file(_draft(desk, "邻居家狗半夜叫", "m3", category="邻里纠纷"))
    wang = Reporter("wechat", "room-3", "3号楼群", "wxid_wang", "王师傅")
    assert desk.status("2026-0001", LI) == "诉求 2026-0001（设施维修）：已登记。“3号楼电梯坏了”，11月24日登记。"
    assert desk.status("2026-0001", wang).startswith("没有找到您登记的编号为 2026-0001 的诉求")
    assert desk.mine(LI) == (
        "您在办的诉求：\n2026-0002 “小区门口垃圾三天没人清”：已登记\n2026-0001 “3号楼电梯坏了”：已登记\n"
        "发“查询 编号”可以看详情。"
    )  # in the group, the neighbour dispute is left out
    assert "2026-0003" in desk.mine(Reporter("wechat", "", "", "wxid_li", "李阿姨"))
    assert desk.mine(wang).startswith("您目前没有在办的诉求。")
    alone = Reporter("wechat", "", "", "wxid_li", "李阿姨")
    desk.file(_draft(desk, "我家楼上漏水", "m4", reporter=alone))  # filed in a private chat: not told in a group
    assert desk.status("2026-0004", LI) == "编号 2026-0004 的诉求请私聊我查询。"
    assert desk.status("2026-0004", alone).startswith("诉求 2026-0004（设施维修）：已登记。")


def test_resolved_cases_close_after_days_without_an_answer(
    desk: PetitionDesk, sessions: sessionmaker[Session], desk_clock: FakeClock
) -> None:
    filed = desk.file(_draft(desk, "3号楼电梯坏了", "m1")).petition
    assert filed is not None
    for step in (PetitionEvent.ACCEPT, PetitionEvent.DISPATCH, PetitionEvent.START):
        desk.move(filed.number, step, actor=CADRE)
    resolved = desk.move(filed.number, PetitionEvent.RESOLVE, actor=CADRE, note="电梯已修好")
    assert resolved.resolved_at == desk_clock.now()
    desk_clock.advance(days=6, hours=23)
    assert desk.close_unanswered() == []
    desk_clock.advance(hours=2)
    (closed,) = desk.close_unanswered()
    assert closed.status is PetitionStatus.CLOSED and desk.close_unanswered() == []
    texts = _outbox_texts(sessions, desk_clock)
    assert texts[-2].endswith("已办结：电梯已修好。如果问题还没解决，请告诉社区工作人员；7天内没有回音将自动关闭。")
    assert texts[-1] == "您反映的“3号楼电梯坏了”（编号 2026-0001）办结后7天没有收到您的回音，已自动关闭，感谢您的反映。"
    entries = StaffAudit(SqlAuditLog(sessions), desk_clock).entries(limit=10, action="petition_moved")
    assert (entries[0].actor, entries[0].detail) == ("小助手", "到期自动关闭：办结后7天未收到居民回复，自动关闭")
    assert len(entries) == 5


def test_a_dispatch_names_its_department_and_the_board_filters_by_it(
    desk: PetitionDesk, sessions: sessionmaker[Session], desk_clock: FakeClock
) -> None:
    first = desk.file(_draft(desk, "3号楼电梯坏了", "m1")).petition
    desk_clock.advance(minutes=1)
    second = desk.file(_draft(desk, "小区门口垃圾没人清", "m2", category="环境卫生")).petition
    assert first is not None and second is not None
    desk.move(first.number, PetitionEvent.ACCEPT, actor=CADRE)
    moved = desk.move(first.number, PetitionEvent.DISPATCH, actor=CADRE, note="今天内修", department="物业公司")
    assert (moved.department, moved.note) == ("物业公司", "派给物业公司：今天内修")
    assert [t.note for t in desk.history(moved)] == ["", "派给物业公司：今天内修"]
    assert _outbox_texts(sessions, desk_clock)[-1].endswith("已派给相关部门处理。")  # the department is for staff
    assert [p.number for p in desk.board(BoardFilter(), offset=0, limit=10)] == ["2026-0002", "2026-0001"]
    assert [p.number for p in desk.board(BoardFilter(department="物业公司"), offset=0, limit=10)] == ["2026-0001"]
    assert desk.board(BoardFilter(department=""), offset=0, limit=10) == []  # never the cases not dispatched
    assert desk.counts(BoardFilter(category="环境卫生")) == {PetitionStatus.SUBMITTED: 1}
    assert desk.counts(BoardFilter()) == {PetitionStatus.SUBMITTED: 1, PetitionStatus.DISPATCHED: 1}
    assert desk.board(BoardFilter(status=PetitionStatus.SUBMITTED), offset=1, limit=10) == []
    assert desk.board(BoardFilter(community=""), offset=0, limit=10)[0].number == "2026-0002"  # no groups: default


def test_a_listed_word_a_resident_reports_is_never_repeated_to_them(
    desk: PetitionDesk, sessions: sessionmaker[Session], desk_clock: FakeClock
) -> None:
    filed = desk.file(_draft(desk, "5号楼地下室有人聚众赌博", "m1", category="安全隐患")).petition
    assert filed is not None and "赌博" in filed.description  # kept for staff as the resident wrote it
    desk.move(filed.number, PetitionEvent.ACCEPT, actor=CADRE)
    told = [desk.status(filed.number, LI), desk.mine(LI), *_outbox_texts(sessions, desk_clock)]
    assert told[:2] == [
        "诉求 2026-0001（安全隐患）：已受理。11月24日登记。",
        "您在办的诉求：\n2026-0001：已受理\n发“查询 编号”可以看详情。",
    ]
    assert told[-1] == "您反映的事（编号 2026-0001）已受理，我们会尽快安排处理。"


def test_a_case_an_outside_system_filed_keeps_its_community_and_its_reporter_is_never_messaged(
    sessions: sessionmaker[Session], desk_clock: FakeClock
) -> None:
    desk = PetitionDesk(
        SqlPetitions(sessions),
        KeywordTriggers(),
        desk_clock,
        audit=StaffAudit(SqlAuditLog(sessions), desk_clock),
        staff_group_id="staff@chatroom",
    )
    platform = Reporter(OPEN311_CHANNEL, "", "市12345平台", "7:citizen-77", "王小明")
    draft = replace(_draft(desk, "路灯不亮", "open311:abc", reporter=platform), community="幸福里")
    filed = desk.file(draft).petition
    assert filed is not None and filed.community == "幸福里"
    (staff,) = _outbox_texts(sessions, desk_clock)
    assert staff.startswith(f"【诉求 {filed.number}】“市12345平台”转来的居民反映：路灯不亮")
    desk_clock.advance(minutes=1)
    desk.move(filed.number, PetitionEvent.ACCEPT, actor=CADRE, note="已通知物业")
    assert _outbox_texts(sessions, desk_clock) == [staff]  # followed through the API, never messaged
    assert desk.by_origin("open311:abc") == desk.case(filed.number)
    assert [p.number for p in desk.matching(BoardFilter(community="幸福里"), limit=10)] == [filed.number]
    assert desk.matching(BoardFilter(community="和平里"), limit=10) == []
    assert desk.matching(BoardFilter(), statuses={PetitionStatus.CLOSED}, limit=10) == []
    (moved,) = desk.moves_since(BoardFilter(community="幸福里"), since=filed.created_at, limit=10)
    assert (moved.petition.number, moved.move.to_status, moved.move.note) == (filed.number, "accepted", "已通知物业")
    assert moved.move.id > 0
    assert desk.moves_since(BoardFilter(), since=desk_clock.now(), limit=10) == []


def test_a_resident_of_the_door_code_page_is_sent_nothing_while_the_staff_group_is_told(
    sessions: sessionmaker[Session], desk_clock: FakeClock
) -> None:
    desk = PetitionDesk(
        SqlPetitions(sessions),
        KeywordTriggers(),
        desk_clock,
        audit=StaffAudit(SqlAuditLog(sessions), desk_clock),
        staff_group_id="staff-room",
    )
    page_resident = Reporter(PAGE_CHANNEL, "", "门牌码", "qr-device", "扫码居民")
    filed = desk.file(_draft(desk, "3号楼电梯坏了", "qr:1", reporter=page_resident)).petition
    assert filed is not None and not page_resident.reachable and LI.reachable
    desk.move(filed.number, PetitionEvent.ACCEPT, actor=CADRE)
    desk.move(filed.number, PetitionEvent.REJECT, actor=CADRE, note="不属于社区管理范围")
    queued = SqlOutbox(sessions).due(now=desk_clock.now(), limit=100)
    assert [q.message.channel for q in queued] == ["wechat"]  # the staff group's notice of the new case
    assert "门牌码扫码页面的居民反映" in queued[0].message.text
    assert [t.to_status for t in desk.history(filed)] == ["accepted", "rejected"]
