"""Petition routing on both databases: deadlines set at filing from the route in force (urgent shorter), a dispatch
that names nobody going to the category's department, the department told in its WeChat group and by its WeCom robot
with the move (once), 吹哨 escalation by staff and by the deadline job (once), and reminders once a day per case."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.outbox import QueuedMessage
from bot.domain.petitions import (
    PetitionCategory,
    PetitionEvent,
    PetitionMoveRefused,
    PetitionStatus,
    ReasonRequiredError,
    Recognition,
    RecognitionKind,
    Reporter,
)
from bot.domain.routing import WECOM_CHANNEL, RoutingError
from bot.domain.staff import Actor, Venue
from bot.services.audit import StaffAudit
from bot.services.deadlines import DeadlineWatch
from bot.services.petitions import EscalationTargetMissingError, KeywordTriggers, PetitionDesk, StaffMove
from bot.services.routing import NOTICE_CHARS, PetitionRouting
from bot.storage.channel import SqlOutbox
from bot.storage.engine import make_engine, session_factory, upgrade
from bot.storage.petitions import SqlPetitions
from bot.storage.routing import SqlRoutes
from bot.storage.staff import SqlAuditLog
from tests.support.clock import FakeClock

LI = Reporter("wechat", "room-3", "3号楼群", "wxid_li", "李阿姨")
CADRE = Actor("李干部", Venue.CONSOLE, username="li")
STAFF = Actor.staff_group("张主任")
CATEGORIES = [
    PetitionCategory("设施维修", "坏了要修", department="物业", deadline_hours=72, urgent_deadline_hours=24),
    PetitionCategory("其他", "别的", department="社区居委会", deadline_hours=120, urgent_deadline_hours=48),
]
STAFF_GROUP = "staff-room"


@dataclass
class World:
    sessions: sessionmaker[Session]
    clock: FakeClock
    desk: PetitionDesk
    routing: PetitionRouting
    watch: DeadlineWatch

    def file(self, text: str, origin: str, category: str = "设施维修") -> str:
        recognition = Recognition(RecognitionKind.EXPLICIT, category, 1.0, text)
        filed = self.desk.file(self.desk.draft(recognition, LI, origin=origin)).petition
        assert filed is not None
        return filed.number

    def queued(self) -> list[QueuedMessage]:
        return SqlOutbox(self.sessions).due(now=self.clock.now() + timedelta(days=30), limit=500)

    def sent_to(self, target: str) -> list[str]:
        return [q.message.text for q in self.queued() if target in (q.message.group_id, q.message.user_id)]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    clock = FakeClock()
    audit = StaffAudit(SqlAuditLog(sessions), clock)
    names = {"wy-room": "物业工作群", "street-room": "街道吹哨群"}
    routing = PetitionRouting(
        SqlRoutes(sessions), CATEGORIES, clock, audit=audit, group_name_of=lambda g: names.get(g, g)
    )
    store = SqlPetitions(sessions)
    desk = PetitionDesk(store, KeywordTriggers(), clock, audit=audit, routing=routing, staff_group_id=STAFF_GROUP)
    watch = DeadlineWatch(
        store,
        desk,
        routing,
        SqlOutbox(sessions),
        clock,
        due_soon=timedelta(hours=4),
        escalate_after=timedelta(hours=24),
        staff_group_id=STAFF_GROUP,
    )
    yield World(sessions, clock, desk, routing, watch)
    engine.dispose()


def _departments(world: World, *, street: bool = True) -> None:
    world.routing.save_department("物业", "wy-room", "wy-robot-key", street_office=False, actor=CADRE)
    if street:
        world.routing.save_department("街道办", "street-room", "street-robot-key", street_office=True, actor=CADRE)


def test_a_case_is_due_by_its_category_s_route_in_force_when_filed(world: World) -> None:
    number = world.file("3号楼电梯坏了", "m1")
    case = world.desk.case(number)
    assert case is not None and case.due_at == world.clock.now() + timedelta(hours=72)
    (told,) = world.sent_to(STAFF_GROUP)
    assert (
        "（设施维修，地点：3号楼，期限：11月27日 17:00前办结）" in told
        and f"“{number} 派单”派给物业（或“{number} 派单 部门”）；" in told
    )
    urgent = world.desk.case(world.file("3号楼燃气泄漏，很危险", "m2"))
    assert urgent is not None and urgent.due_at == world.clock.now() + timedelta(hours=24)
    unknown = world.desk.case(world.file("建议多放长椅", "m3", category="不在文件里"))
    assert unknown is not None and unknown.due_at == world.clock.now() + timedelta(hours=120)  # 其他's route

    world.routing.edit_route("设施维修", "维修队", 48, 8, actor=CADRE)
    edited = world.desk.case(world.file("5号楼楼道灯坏了", "m4"))
    assert edited is not None and edited.due_at == world.clock.now() + timedelta(hours=48)
    assert case.due_at == world.clock.now() + timedelta(hours=72)  # cases filed before keep theirs
    route = world.routing.route("设施维修")
    assert route is not None and (route.department, route.edited_by) == ("维修队", "李干部")
    world.routing.reset_route("设施维修", actor=CADRE)
    assert world.routing.default_department("设施维修") == "物业"


def test_a_route_out_of_bounds_or_of_an_unknown_category_is_refused(world: World) -> None:
    with pytest.raises(RoutingError, match="紧急诉求的期限不能比一般诉求长"):
        world.routing.edit_route("设施维修", "物业", 24, 48, actor=CADRE)
    with pytest.raises(RoutingError, match="办理期限应在"):
        world.routing.edit_route("设施维修", "物业", 0, 0, actor=CADRE)
    with pytest.raises(RoutingError, match="没有“不存在”这个诉求分类"):
        world.routing.edit_route("不存在", "物业", 24, 4, actor=CADRE)


def test_a_dispatch_naming_nobody_goes_to_the_category_s_department_which_is_told_once_with_the_move(
    world: World,
) -> None:
    _departments(world)
    number = world.file("3号楼电梯坏了，停了两天", "m1")
    world.desk.move(number, PetitionEvent.ACCEPT, actor=CADRE)
    dispatched = world.desk.order(StaffMove(number, PetitionEvent.DISPATCH, ""), actor=STAFF)
    assert (dispatched.status, dispatched.department, dispatched.note) == (
        PetitionStatus.DISPATCHED,
        "物业",
        "派给物业",
    )
    (group_text,) = world.sent_to("wy-room")
    (robot,) = [q for q in world.queued() if q.message.channel == WECOM_CHANNEL]
    assert robot.message.group_id == "wy-robot-key" and robot.message.text == group_text
    assert robot.source == f"petition:{dispatched.id}"
    assert len(group_text) <= NOTICE_CHARS
    for part in (f"【派单 {number}】", "设施维修", "地点：3号楼", "期限：11月27日 17:00前办结", "电梯坏了"):
        assert part in group_text
    assert f"“{number} 处理中”" in group_text and f"“{number} 办结：说明”" in group_text

    with pytest.raises(PetitionMoveRefused):  # a second dispatch is refused, and tells nobody again
        world.desk.order(StaffMove(number, PetitionEvent.DISPATCH, "物业"), actor=STAFF)
    assert len(world.sent_to("wy-room")) == 1 and len(world.sent_to("wy-robot-key")) == 1


def test_a_department_not_in_the_directory_is_told_nothing_and_nobody_by_default_needs_a_name(world: World) -> None:
    number = world.file("3号楼电梯坏了", "m1")
    world.desk.move(number, PetitionEvent.ACCEPT, actor=CADRE)
    world.desk.order(StaffMove(number, PetitionEvent.DISPATCH, "城管科"), actor=STAFF)
    assert {q.message.group_id for q in world.queued()} == {"room-3", STAFF_GROUP}  # the resident and staff only
    world.routing.edit_route("其他", "", 120, 48, actor=CADRE)
    other = world.file("建议多放长椅", "m2", category="其他")
    world.desk.move(other, PetitionEvent.ACCEPT, actor=CADRE)
    with pytest.raises(ReasonRequiredError, match="派单要写明派给谁"):
        world.desk.order(StaffMove(other, PetitionEvent.DISPATCH, ""), actor=STAFF)


def test_staff_escalate_to_the_street_office_recorded_with_who_was_notified_and_the_resident_not_told(
    world: World,
) -> None:
    number = world.file("3号楼门口违建占道", "m1")
    with pytest.raises(EscalationTargetMissingError):
        world.desk.order(StaffMove(number, PetitionEvent.ESCALATE, "需要城管和住建一起处理"), actor=STAFF)
    _departments(world)
    with pytest.raises(ReasonRequiredError):
        world.desk.order(StaffMove(number, PetitionEvent.ESCALATE, ""), actor=STAFF)
    before = len(world.sent_to("room-3"))
    escalated = world.desk.order(StaffMove(number, PetitionEvent.ESCALATE, "需要城管和住建一起处理"), actor=STAFF)
    assert escalated.status is PetitionStatus.SUBMITTED and escalated.escalated_at == world.clock.now()
    (street,) = world.sent_to("street-room")
    assert street.startswith(f"【吹哨 {number}】需要城管和住建一起处理") and "由张主任吹哨" in street
    assert world.sent_to("street-robot-key") == [street]
    assert len(world.sent_to("room-3")) == before  # the resident is not told
    last = world.desk.history(escalated)[-1]
    assert (last.event, last.from_status, last.to_status, last.actor) == (
        "escalate",
        "submitted",
        "submitted",
        "张主任",
    )
    assert last.note == "需要城管和住建一起处理；已通知：街道办（微信群“街道吹哨群”、企业微信群机器人）"
    assert escalated.note == last.note

    world.clock.advance(hours=1)  # staff may escalate again, with a reason
    world.desk.move(number, PetitionEvent.ESCALATE, actor=CADRE, note="城管三天没到场")
    assert [t.event for t in world.desk.history(escalated)].count("escalate") == 2
    assert len(world.sent_to("street-room")) == 2
    world.desk.move(number, PetitionEvent.REJECT, actor=CADRE, note="不属于社区管辖")
    with pytest.raises(PetitionMoveRefused, match="不能吹哨"):
        world.desk.order(StaffMove(number, PetitionEvent.ESCALATE, "再试"), actor=STAFF)


def test_the_deadline_job_reminds_once_a_day_and_escalates_a_long_overdue_case_once(world: World) -> None:
    _departments(world)
    number = world.file("3号楼电梯坏了", "m1")
    world.desk.move(number, PetitionEvent.ACCEPT, actor=CADRE)
    world.desk.order(StaffMove(number, PetitionEvent.DISPATCH, ""), actor=STAFF)
    undispatched = world.file("5号楼楼道灯坏了", "m2")
    assert world.watch.run().reminded == ()  # nothing due yet

    world.clock.advance(hours=70)  # two hours before the deadline
    run = world.watch.run()
    assert set(run.reminded) == {number, undispatched} and run.escalated == () and run.summarised
    (soon,) = [t for t in world.sent_to("wy-room") if "即将到期" in t]
    assert soon.startswith(f"【诉求即将到期 {number}】期限 11月27日 17:00") and f"“{number} 办结：说明”" in soon
    (summary,) = world.sent_to(STAFF_GROUP)[-1:]
    assert summary.startswith("【诉求期限提醒】即将到期：") and f"{undispatched}（未派单）" in summary
    staff_before = len(world.sent_to(STAFF_GROUP))

    world.clock.advance(hours=1)  # the same day: nothing twice
    assert world.watch.run() == type(run)((), (), False)
    assert len(world.sent_to(STAFF_GROUP)) == staff_before

    world.clock.advance(hours=3)  # overdue now: a different reminder
    run = world.watch.run()
    assert set(run.reminded) == {number, undispatched} and run.escalated == ()
    assert any(t.startswith(f"【诉求已超期 {number}】") for t in world.sent_to("wy-robot-key"))
    before_board = world.desk.case(number)
    assert before_board is not None and before_board.overdue(world.clock.now())

    world.clock.advance(hours=24)  # overdue by more than a day: escalated once, reminded again on the new day
    run = world.watch.run()
    assert set(run.escalated) == {number, undispatched} and set(run.reminded) == {number, undispatched}
    assert any("已自动吹哨" in t for t in world.sent_to(STAFF_GROUP))
    escalated = world.desk.case(number)
    assert escalated is not None and escalated.escalated_at == world.clock.now()
    note = world.desk.history(escalated)[-1].note
    assert note.startswith("超过办理期限 26 小时仍未办结，自动吹哨") and "街道办（微信群“街道吹哨群”" in note
    world.clock.advance(days=1)
    assert world.watch.run().escalated == ()  # never twice automatically
    assert [t.event for t in world.desk.history(escalated)].count("escalate") == 1


def test_a_resolved_case_is_not_reminded_and_a_run_is_bounded(world: World) -> None:
    _departments(world)
    numbers = [world.file(f"{n}号楼电梯坏了", f"m{n}") for n in range(1, 4)]
    world.desk.move(numbers[0], PetitionEvent.ACCEPT, actor=CADRE)
    world.desk.order(StaffMove(numbers[0], PetitionEvent.DISPATCH, ""), actor=STAFF)
    world.desk.move(numbers[0], PetitionEvent.START, actor=CADRE)
    world.desk.move(numbers[0], PetitionEvent.RESOLVE, actor=CADRE, note="已修好")
    world.clock.advance(hours=80)
    bounded = DeadlineWatch(
        SqlPetitions(world.sessions), world.desk, world.routing, SqlOutbox(world.sessions), world.clock, limit=1
    )
    assert bounded.run().reminded == (numbers[1],)
    assert world.watch.run().reminded == (numbers[2],)


def test_an_automatic_escalation_leaves_a_case_escalated_before_alone(world: World) -> None:
    _departments(world)
    number = world.file("3号楼电梯坏了", "m1")
    first = world.desk.escalate(number, "超期未办结", actor=CADRE, once=True)
    assert first is not None and first.escalated_at == world.clock.now()
    world.clock.advance(hours=1)
    assert world.desk.escalate(number, "超期未办结", actor=CADRE, once=True) is None  # the compare-and-set refuses
    case = world.desk.case(number)
    assert case is not None and [t.event for t in world.desk.history(case)] == ["escalate"]
    assert len(world.sent_to("street-room")) == 1
    audited = StaffAudit(SqlAuditLog(world.sessions), world.clock).entries(limit=10, action="petition_moved")
    assert [e.detail for e in audited] == ["吹哨：超期未办结；已通知：街道办（微信群“街道吹哨群”、企业微信群机器人）"]
