"""Notices on both databases, with the real scheduler's job store: targets resolved at run time within the author's
scope, one outbox row per group per run (a rerun queues only what is missing), urgency as outbox priority, schedules
stored as jobs and removed on withdrawal, edits, per-group progress, retrying failed groups, and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.notices import (
    NoticeDraft,
    NoticeError,
    NoticeSchedule,
    NoticeStatus,
    NoticeTargets,
    NoticeUrgency,
    ScheduleKind,
    scheduled_run_key,
)
from bot.domain.outbox import OutboxStatus, SendPriority
from bot.domain.staff import Actor, Role, Venue
from bot.domain.workflow import TransitionNotAllowed
from bot.scheduling import JobScheduler
from bot.services.audit import StaffAudit
from bot.services.notices import RESUME_NOTICE_RUNS, SEND_NOTICE, NoticeDesk
from bot.storage.channel import SqlGroupConfigs, SqlOutbox
from bot.storage.engine import make_engine
from bot.storage.notices import SqlNotices
from bot.storage.staff import SqlAuditLog
from tests.support.clock import FakeClock

ZONE = timezone(timedelta(hours=8))
CADRE = Actor("王书记", Venue.CONSOLE, username="wang", role=Role.CADRE, community="幸福里")
ADMIN = Actor("管理员", Venue.CONSOLE, username="admin", role=Role.ADMIN)
TEXT = "各位居民：明天（周三）上午9点至下午5点，3号楼停水检修，请提前储水。给大家带来不便，敬请谅解。"


@dataclass
class World:
    sessions: sessionmaker[Session]
    clock: FakeClock
    groups: SqlGroupConfigs
    outbox: SqlOutbox
    scheduler: JobScheduler
    desk: NoticeDesk
    audit: SqlAuditLog

    def group(self, group_id: str, community: str, *, tags: tuple[str, ...] = (), enabled: bool = True) -> None:
        self.groups.get_or_register(group_id=group_id, channel="wechat", name=f"{group_id}群", now=self.clock.now())
        self.groups.update(group_id, now=self.clock.now(), enabled=enabled, community=community, tags=tags)

    def queued_groups(self, source: str) -> list[str]:
        return sorted(d.target.split(":group:")[1] for d in self.outbox.deliveries(source))


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    engine = make_engine(database_url)
    from bot.storage.engine import session_factory, upgrade

    upgrade(engine)
    sessions = session_factory(engine)
    clock = FakeClock()
    groups = SqlGroupConfigs(sessions, enabled_by_default=False, keywords=())
    outbox = SqlOutbox(sessions)
    desk_box: list[NoticeDesk] = []
    scheduler = JobScheduler(
        engine,
        {SEND_NOTICE: lambda notice_id: desk_box[0].run_scheduled(notice_id), RESUME_NOTICE_RUNS: lambda: None},
        holder="test",
        lease_s=30,
        misfire_grace_s=600,
    )
    scheduler.start()
    audit = SqlAuditLog(sessions)
    desk = NoticeDesk(
        SqlNotices(sessions),
        groups,
        outbox,
        scheduler=scheduler,
        clock=clock,
        audit=StaffAudit(audit, clock),
        zone=ZONE,
        misfire_grace=timedelta(minutes=10),
    )
    desk_box.append(desk)
    world = World(sessions, clock, groups, outbox, scheduler, desk, audit)
    for n in range(1, 4):
        world.group(f"xfl-{n}", "幸福里", tags=("楼栋群",) if n < 3 else ("商户群",))
    world.group("xfl-off", "幸福里", tags=("楼栋群",), enabled=False)
    world.group("hp-1", "和平里", tags=("楼栋群",))
    yield world
    scheduler.shutdown()
    engine.dispose()


def draft(
    *, targets: NoticeTargets | None = None, schedule: NoticeSchedule | None = None, urgent: bool = False
) -> NoticeDraft:
    return NoticeDraft(
        "3号楼停水",
        TEXT,
        NoticeUrgency.URGENT if urgent else NoticeUrgency.ROUTINE,
        targets or NoticeTargets(everyone=True),
        schedule or NoticeSchedule(ScheduleKind.NOW),
    )


def test_send_now_queues_one_row_per_enabled_group_in_the_authors_scope(world: World) -> None:
    notice = world.desk.publish(draft(urgent=True), actor=CADRE, scope="幸福里")
    assert notice.status is NoticeStatus.SENT
    (run,) = world.desk.runs(notice.id, scope="幸福里")
    # 和平里 is another community's; xfl-off is switched off
    assert world.queued_groups(run.run.source) == ["xfl-1", "xfl-2", "xfl-3"]
    assert run.run.groups == 3 and run.counts == {OutboxStatus.QUEUED: 3}
    due = world.outbox.due(now=world.clock.now(), limit=10)
    assert {q.priority for q in due} == {SendPriority.URGENT} and {q.message.text for q in due} == {TEXT}
    assert [(e.action, e.actor, e.target) for e in world.audit.entries(limit=5)] == [
        ("notice_sent", "wang", f"通知 #{notice.id}")
    ]
    # An admin's notice to everyone reaches every community's enabled groups, routine ones as bulk sending
    admin_notice = world.desk.publish(draft(), actor=ADMIN, scope=None)
    (admin_run,) = world.desk.runs(admin_notice.id, scope=None)
    assert world.queued_groups(admin_run.run.source) == ["hp-1", "xfl-1", "xfl-2", "xfl-3"]
    assert {d.priority for d in world.outbox.due(now=world.clock.now(), limit=20) if "hp-1" == d.message.group_id} == {
        SendPriority.BULK
    }
    # The cadre does not see the admin's notice
    with pytest.raises(NoticeError, match="没有找到"):
        world.desk.notice(admin_notice.id, scope="幸福里")
    assert [o.notice.id for o in world.desk.history(scope="幸福里")] == [notice.id]


def test_targets_by_tag_community_and_group_never_leave_the_scope(world: World) -> None:
    by_tag = world.desk.preview(draft(targets=NoticeTargets(tags=("楼栋群",))), scope="幸福里")
    assert [g.group_id for g in by_tag.groups] == ["xfl-1", "xfl-2"]
    by_group = world.desk.preview(draft(targets=NoticeTargets(group_ids=("xfl-3", "hp-1"))), scope="幸福里")
    assert [g.group_id for g in by_group.groups] == ["xfl-3"]
    with pytest.raises(NoticeError, match="没有开启的群"):
        world.desk.preview(draft(targets=NoticeTargets(communities=("和平里",))), scope="幸福里")
    assert [
        g.group_id for g in world.desk.preview(draft(targets=NoticeTargets(communities=("和平里",))), scope=None).groups
    ] == ["hp-1"]


def test_a_rerun_of_the_same_run_queues_only_what_is_missing(world: World) -> None:
    notice = world.desk.publish(
        draft(schedule=NoticeSchedule(ScheduleKind.DAILY, time_of_day="08:00")), actor=CADRE, scope="幸福里"
    )
    store = SqlNotices(world.sessions)
    fire = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 08:00 in the deployment's zone
    world.clock.current = fire + timedelta(minutes=2)
    run = world.desk.run_scheduled(notice.id)
    assert run is not None and run.run_key == scheduled_run_key(fire) == "20261125T0000Z"
    # A group added later, and the same fire time run again (a second process, a restart): only the new group
    world.group("xfl-4", "幸福里")
    again = world.desk.run_scheduled(notice.id)
    assert again is not None and again.run_key == run.run_key
    assert world.queued_groups(run.source) == ["xfl-1", "xfl-2", "xfl-3"]  # the run was queued: not redone
    recorded = store.run(notice.id, run.run_key)
    assert recorded is not None and store.fan_out(recorded, [], priority=SendPriority.BULK, now=fire) == 0
    # The next day's run reaches the new group too; the notice stays scheduled
    world.clock.current = fire + timedelta(days=1, seconds=5)
    next_run = world.desk.run_scheduled(notice.id)
    assert next_run is not None and world.queued_groups(next_run.source) == ["xfl-1", "xfl-2", "xfl-3", "xfl-4"]
    assert world.desk.notice(notice.id, scope="幸福里").status is NoticeStatus.SCHEDULED


def test_an_interrupted_run_is_resumed_with_each_group_once(world: World) -> None:
    notice = world.desk.publish(
        draft(schedule=NoticeSchedule(ScheduleKind.WEEKLY, time_of_day="08:00", weekday=2)), actor=CADRE, scope="幸福里"
    )
    store = SqlNotices(world.sessions)
    # A process recorded the run and queued one group before dying (the fan-out of the rest never committed)
    run = store.start_run(notice.id, "20261125T0000Z", event=None, actor="小助手", now=world.clock.now())
    from bot.domain.messages import OutboundMessage

    store.fan_out(
        run, [OutboundMessage("wechat", TEXT, group_id="xfl-2")], priority=SendPriority.BULK, now=world.clock.now()
    )
    from sqlalchemy import update

    from bot.storage.models import NoticeRunRow

    with world.sessions.begin() as session:
        session.execute(update(NoticeRunRow).values(state="queuing"))
    assert [r.run_key for r in store.unfinished_runs()] == ["20261125T0000Z"]
    assert world.desk.resume_unfinished() == 2
    assert world.queued_groups(run.source) == ["xfl-1", "xfl-2", "xfl-3"]
    assert store.unfinished_runs() == [] and world.desk.resume_unfinished() == 0


def test_schedules_are_jobs_an_edit_replaces_and_a_withdrawal_removes(world: World) -> None:
    at = datetime(2026, 12, 1, 8, 30, tzinfo=ZONE)
    notice = world.desk.publish(draft(schedule=NoticeSchedule(ScheduleKind.ONCE, at=at)), actor=CADRE, scope="幸福里")
    assert notice.status is NoticeStatus.SCHEDULED and world.desk.runs(notice.id, scope="幸福里") == []
    (job,) = [j for j in world.scheduler.jobs() if j.job_id == f"notice:{notice.id}"]
    assert job.name == SEND_NOTICE and job.next_run_at == at
    edited = world.desk.edit(
        notice.id,
        draft(schedule=NoticeSchedule(ScheduleKind.CRON, cron="0 8 * * 1-5")),
        actor=CADRE,
        scope="幸福里",
    )
    assert edited.draft.schedule.cron == "0 8 * * 1-5" and edited.edited_by == "wang"
    (job,) = [j for j in world.scheduler.jobs() if j.job_id == f"notice:{notice.id}"]
    # crontab's 1-5 is Monday to Friday (APScheduler 3 alone would read 1 as Tuesday), at 08:00 local time
    assert "day_of_week='mon-fri'" in job.trigger
    assert job.next_run_at is not None and job.next_run_at.astimezone(ZONE).strftime("%H:%M") == "08:00"
    assert job.next_run_at.astimezone(ZONE).weekday() < 5
    withdrawn = world.desk.withdraw(notice.id, actor=CADRE, scope="幸福里")
    assert withdrawn.status is NoticeStatus.WITHDRAWN
    assert [j for j in world.scheduler.jobs() if j.job_id == f"notice:{notice.id}"] == []
    assert world.desk.run_scheduled(notice.id) is None  # a job that fired anyway sends nothing
    with pytest.raises(TransitionNotAllowed, match="已撤回"):
        world.desk.withdraw(notice.id, actor=CADRE, scope="幸福里")
    assert [o.notice.status for o in world.desk.history(scope="幸福里")] == [NoticeStatus.WITHDRAWN]  # kept
    assert [e.action for e in world.audit.entries(limit=5)] == ["notice_withdrawn", "notice_edited", "notice_scheduled"]


def test_a_once_notice_runs_once_at_its_time_and_then_is_sent(world: World) -> None:
    at = datetime(2026, 11, 24, 18, 0, tzinfo=ZONE)
    notice = world.desk.publish(draft(schedule=NoticeSchedule(ScheduleKind.ONCE, at=at)), actor=CADRE, scope="幸福里")
    world.clock.current = at.astimezone(UTC) + timedelta(minutes=3)  # missed by three minutes, within the grace
    run = world.desk.run_scheduled(notice.id)
    assert run is not None and run.run_key == scheduled_run_key(at) and run.groups == 3
    assert world.desk.notice(notice.id, scope="幸福里").status is NoticeStatus.SENT
    assert world.desk.run_scheduled(notice.id) is None  # fired again: nothing more
    with pytest.raises(TransitionNotAllowed):
        world.desk.edit(
            notice.id,
            draft(schedule=NoticeSchedule(ScheduleKind.DAILY, time_of_day="09:00")),
            actor=CADRE,
            scope="幸福里",
        )


def test_failed_groups_are_listed_with_the_reason_and_retried(world: World) -> None:
    notice = world.desk.publish(draft(), actor=CADRE, scope="幸福里")
    (run,) = world.desk.runs(notice.id, scope="幸福里")
    now = world.clock.now()
    claimed = world.outbox.claim_due(now=now, limit=10, owner="s", lease=timedelta(minutes=1))
    for entry in claimed:
        world.outbox.start_send(entry.id, "s", now=now, lease=timedelta(minutes=1))
        if entry.message.group_id == "xfl-2":
            world.outbox.mark_failed(entry.id, "s", "发不出去（助手已不在群里）", retry_at=None)
        else:
            world.outbox.mark_sent(entry.id, "s", now=now)
    progress = world.desk.progress(notice.id, run.run.run_key, scope="幸福里")
    assert progress.counts == {OutboxStatus.SENT: 2, OutboxStatus.FAILED: 1}
    assert [(name, d.status, d.last_error) for name, d in progress.deliveries if d.status is OutboxStatus.FAILED] == [
        ("xfl-2群", OutboxStatus.FAILED, "发不出去（助手已不在群里）")
    ]
    assert world.desk.retry_failed(notice.id, run.run.run_key, actor=CADRE, scope="幸福里") == 1
    assert world.desk.progress(notice.id, run.run.run_key, scope="幸福里").counts == {
        OutboxStatus.SENT: 2,
        OutboxStatus.QUEUED: 1,
    }
    assert world.audit.entries(limit=1)[0].action == "notice_retried"


def test_bad_drafts_are_refused_in_chinese(world: World) -> None:
    for text, reason in [
        ("", "请填写通知内容"),
        ("**停水通知**", "排版符号"),
        ("# 停水", "排版符号"),
        ("停" * 801, "最多 800 个字"),
    ]:
        with pytest.raises(NoticeError, match=reason):
            world.desk.preview(
                NoticeDraft(
                    "标题", text, NoticeUrgency.ROUTINE, NoticeTargets(everyone=True), NoticeSchedule(ScheduleKind.NOW)
                ),
                scope="幸福里",
            )
    with pytest.raises(NoticeError, match="请新建"):
        notice = world.desk.publish(
            draft(schedule=NoticeSchedule(ScheduleKind.DAILY, time_of_day="08:00")), actor=CADRE, scope="幸福里"
        )
        world.desk.edit(notice.id, draft(), actor=CADRE, scope="幸福里")
    assert world.outbox.counts() == {}


def test_the_same_form_submitted_twice_sends_once(world: World) -> None:
    first = world.desk.publish(draft(), actor=CADRE, scope="幸福里", origin="form-key-1")
    again = world.desk.publish(draft(), actor=CADRE, scope="幸福里", origin="form-key-1")
    assert again.id == first.id and len(world.desk.history(scope="幸福里")) == 1
    # Two requests racing past the first look: the store refuses the second, naming the first
    from bot.domain.notices import NoticeAlreadySubmittedError

    with pytest.raises(NoticeAlreadySubmittedError) as raced:
        SqlNotices(world.sessions).add(
            draft(), author="王书记", author_username="wang", scope="幸福里", now=world.clock.now(), origin="form-key-1"
        )
    assert raced.value.notice.id == first.id
    assert world.outbox.counts() == {OutboxStatus.QUEUED: 3}
