"""The notice's rules without a database: schedules from the form (crontab weekdays read as crontab reads them),
the fire time a job belongs to, targets and scope, the text residents read, and the workflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain.groups import GroupConfig
from bot.domain.notices import (
    NOTICE_WORKFLOW,
    NoticeDraft,
    NoticeError,
    NoticeEvent,
    NoticeSchedule,
    NoticeStatus,
    NoticeTargets,
    NoticeUrgency,
    ScheduleKind,
    group_tags,
    resolve_targets,
    run_dedupe_key,
    scheduled_run_key,
)
from bot.domain.outbox import SendPriority
from bot.domain.workflow import TransitionNotAllowed

ZONE = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 17:00 local


def parse(kind: str, **fields: str) -> NoticeSchedule:
    return NoticeSchedule.parse(kind, zone=ZONE, now=NOW, **fields)


def test_schedules_from_the_form() -> None:
    assert parse("now") == NoticeSchedule(ScheduleKind.NOW)
    once = parse("once", date="2026-11-25", time_of_day="8:05")
    assert once.at == datetime(2026, 11, 25, 8, 5, tzinfo=ZONE) and once.describe(ZONE) == "定时 2026-11-25 08:05"
    assert parse("daily", time_of_day="07：30").describe(ZONE) == "每天 07:30"  # a full-width colon typed
    assert parse("weekly", time_of_day="08:00", weekday="0").describe(ZONE) == "每周一 08:00"
    for kind, given, reason in [
        ("once", {"date": "2026-11-24", "time_of_day": "16:59"}, "已经过去了"),
        ("once", {"date": "明天", "time_of_day": "08:00"}, "请填写发送日期"),
        ("daily", {"time_of_day": "25:00"}, "请填写发送时刻"),
        ("weekly", {"time_of_day": "08:00", "weekday": "7"}, "每周哪一天"),
        ("cron", {"cron": "0 8 * *"}, "要五项"),
        ("cron", {"cron": "0 25 * * *"}, "写得不对"),
        ("hourly", {}, "请选择发送时间"),
    ]:
        with pytest.raises(NoticeError, match=reason):
            parse(kind, **given)


def test_crontab_weekdays_mean_what_crontab_means() -> None:
    # crontab: 0 and 7 are Sunday, 1-5 Monday to Friday (APScheduler 3 alone reads 0 as Monday)
    weekdays = parse("cron", cron="0 8 * * 1-5").trigger(ZONE)
    fire = weekdays.get_next_fire_time(None, datetime(2026, 11, 28, 12, 0, tzinfo=ZONE))  # a Saturday
    assert fire == datetime(2026, 11, 30, 8, 0, tzinfo=ZONE)  # Monday
    sunday = parse("cron", cron="30 7 * * 0").trigger(ZONE)
    assert sunday.get_next_fire_time(None, NOW) == datetime(2026, 11, 29, 7, 30, tzinfo=ZONE)
    assert parse("cron", cron="30 7 * * 7").crontab() == "30 7 * * sun"


def test_the_run_a_job_belongs_to_is_its_fire_time() -> None:
    daily = parse("daily", time_of_day="17:00")
    grace = timedelta(minutes=10)
    # Fired late by four minutes (a restart within the grace): still the 17:00 run
    fire = daily.last_fire_time(NOW + timedelta(minutes=4), ZONE, within=grace)
    assert fire == datetime(2026, 11, 24, 17, 0, tzinfo=ZONE)
    assert scheduled_run_key(fire) == "20261124T0900Z"
    assert daily.last_fire_time(NOW + timedelta(hours=1), ZONE, within=grace) is None
    once = parse("once", date="2026-11-25", time_of_day="08:00")
    assert once.last_fire_time(NOW, ZONE, within=grace) is None
    assert once.last_fire_time(NOW + timedelta(days=1), ZONE, within=grace) == once.at
    assert run_dedupe_key(3, "20261124T0900Z", "room-1") == "notice:3:20261124T0900Z:room-1"


def group(group_id: str, community: str, *tags: str, enabled: bool = True) -> GroupConfig:
    return GroupConfig(group_id, "wechat", group_id, enabled, (), community, tags=tags)


def test_targets_match_any_choice_within_the_scope_and_enabled_groups_only() -> None:
    groups = [
        group("a1", "幸福里", "楼栋群"),
        group("a2", "幸福里", "商户群"),
        group("a3", "幸福里", "楼栋群", enabled=False),
        group("b1", "和平里", "楼栋群"),
        group("x", ""),
    ]

    def ids(targets: NoticeTargets, scope: str | None) -> list[str]:
        return [g.group_id for g in resolve_targets(targets, groups, scope)]

    assert ids(NoticeTargets(everyone=True), "幸福里") == ["a1", "a2"]
    assert ids(NoticeTargets(everyone=True), None) == ["a1", "a2", "b1", "x"]
    assert ids(NoticeTargets(everyone=True), "") == []  # a cadre without a community reaches nothing
    assert ids(NoticeTargets(tags=("楼栋群",)), None) == ["a1", "b1"]
    assert ids(NoticeTargets(tags=("楼栋群",), group_ids=("a2", "b1")), "幸福里") == ["a1", "a2"]
    assert ids(NoticeTargets(communities=("和平里",)), "幸福里") == []
    with pytest.raises(NoticeError, match="请选择发给哪些群"):
        NoticeTargets.chosen(everyone=False, communities=[" "], tags=[], group_ids=[])
    assert NoticeTargets.chosen(everyone=False, communities=[], tags=["楼栋群", "楼栋群 "], group_ids=[]).tags == (
        "楼栋群",
    )
    assert NoticeTargets(communities=("幸福里",), group_ids=("a1",)).describe({"a1": "3号楼群"}) == (
        "社区：幸福里；群：3号楼群"
    )
    assert group_tags("楼栋群，商户群、 楼栋群 老年人多") == ("楼栋群", "商户群", "老年人多")


def draft(text: str, title: str = "停水通知") -> NoticeDraft:
    return NoticeDraft(
        title, text, NoticeUrgency.URGENT, NoticeTargets(everyone=True), NoticeSchedule(ScheduleKind.NOW)
    )


def test_the_text_residents_read_is_plain_and_bounded() -> None:
    checked = draft("  各位居民：\r\n明天停水。  \r\n\x07谢谢配合  \n").checked()
    assert checked.text == "  各位居民：\n明天停水。\n谢谢配合"
    for text in ["**明天停水**", "## 停水通知", "- 3号楼\n- 5号楼", "详见[公告](http://a.b)", "`停水`"]:
        with pytest.raises(NoticeError, match="排版符号"):
            draft(text).checked()
    assert draft("3*5号楼 停水，2-3天").checked().text == "3*5号楼 停水，2-3天"  # ordinary symbols pass
    with pytest.raises(NoticeError, match="最多 800 个字"):
        draft("停" * 801).checked()
    with pytest.raises(NoticeError, match="请填写标题"):
        draft("明天停水", title=" ").checked()
    assert NoticeUrgency.URGENT.priority is SendPriority.URGENT
    assert NoticeUrgency.ROUTINE.priority is SendPriority.BULK


def test_the_workflow() -> None:
    assert NOTICE_WORKFLOW.next(NoticeStatus.SCHEDULED, NoticeEvent.SEND) is NoticeStatus.SENT
    # A draft from WeChat is sent by its writer's confirmation, in the transaction that records its run
    assert NOTICE_WORKFLOW.next(NoticeStatus.DRAFT, NoticeEvent.CONFIRM) is NoticeStatus.SENT
    with pytest.raises(TransitionNotAllowed, match="“待确认”的通知不能修改"):
        NOTICE_WORKFLOW.next(NoticeStatus.DRAFT, NoticeEvent.EDIT)
    assert NOTICE_WORKFLOW.next(NoticeStatus.SCHEDULED, NoticeEvent.WITHDRAW) is NoticeStatus.WITHDRAWN
    with pytest.raises(TransitionNotAllowed, match="通知 #4 现在是“已发出”，不能撤回"):
        NOTICE_WORKFLOW.next(NoticeStatus.SENT, NoticeEvent.WITHDRAW, entity_id=4)
    assert NOTICE_WORKFLOW.allowed_events(NoticeStatus.WITHDRAWN) == ()
