"""Welcoming new members through the real group directory and outbox (SQLite and PostgreSQL): one welcome per join
event with the newcomers mentioned, the group's own text or the default, nobody welcomed where it is off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.groups import WELCOME_MAX_CHARS, MemberJoin, WelcomeTextError, checked_welcome_text
from bot.domain.messages import OutboundMessage
from bot.domain.outbox import OutboxStatus
from bot.services.welcome import MemberWelcome
from bot.storage.channel import SqlGroupConfigs, SqlOutbox
from tests.support.clock import FakeClock

DEFAULT = "欢迎加入本群！有问题请@社区小助手，报修请发“报事 加上情况”。"
ROOM = "room-3@chatroom"


def _join(*members: str, event: str = "wxid_li@2026-11-28T10:00:00", room: str = ROOM) -> MemberJoin:
    return MemberJoin("wechat", room, "幸福里3号楼群", members, event)


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> tuple[MemberWelcome, SqlGroupConfigs, SqlOutbox]:
    groups = SqlGroupConfigs(sessions, enabled_by_default=True, keywords=("小助手",))
    outbox = SqlOutbox(sessions)
    return MemberWelcome(groups, outbox, FakeClock(), default_text=DEFAULT), groups, outbox


def test_a_join_queues_one_welcome_mentioning_the_newcomers(
    desk: tuple[MemberWelcome, SqlGroupConfigs, SqlOutbox],
) -> None:
    welcome, groups, outbox = desk
    assert welcome.welcome(_join("wxid_chen", "wxid_sun"))
    assert not welcome.welcome(_join("wxid_sun", "wxid_chen"))  # the same event again, members in another order
    assert welcome.welcome(_join("wxid_chen", "wxid_sun", event="wxid_li@2026-11-29T09:00:00"))  # left and came back
    [first, _] = outbox.deliveries(f"welcome:{ROOM}")
    assert first.text == DEFAULT and first.status is OutboxStatus.QUEUED and first.target == f"wechat:group:{ROOM}"
    [due, _] = outbox.claim_due(now=FakeClock().now(), limit=5, owner="t", lease=timedelta(seconds=30))
    assert due.message == OutboundMessage("wechat", DEFAULT, group_id=ROOM, mention_ids=("wxid_chen", "wxid_sun"))
    config = groups.get(ROOM)
    assert config is not None and config.name == "幸福里3号楼群"  # first seen through the join: registered


def test_the_groups_own_text_and_the_switches(desk: tuple[MemberWelcome, SqlGroupConfigs, SqlOutbox]) -> None:
    welcome, groups, outbox = desk
    now = FakeClock().now()
    groups.get_or_register(group_id=ROOM, channel="wechat", name="3号楼", now=now)
    groups.update(ROOM, welcome_text="欢迎来到3号楼！", now=now)
    assert welcome.welcome(_join("wxid_a", event="1"))
    groups.update(ROOM, welcome_enabled=False, now=now)
    assert not welcome.welcome(_join("wxid_b", event="2"))
    groups.update(ROOM, welcome_enabled=True, enabled=False, now=now)  # the assistant is off in the group
    assert not welcome.welcome(_join("wxid_c", event="3"))
    groups.update(ROOM, enabled=True, welcome_text="", now=now)
    assert welcome.welcome(_join("wxid_d", event="4"))
    assert not welcome.welcome(_join(event="5"))  # nobody (the account itself joining is left out by the channel)
    assert [d.text for d in outbox.deliveries(f"welcome:{ROOM}")] == ["欢迎来到3号楼！", DEFAULT]


def test_a_welcome_text_is_cleaned_and_bounded() -> None:
    assert checked_welcome_text("  欢迎\x00！\n有事@小助手 ") == "欢迎！\n有事@小助手"
    assert checked_welcome_text("   ") == ""
    assert len(checked_welcome_text("欢" * WELCOME_MAX_CHARS)) == WELCOME_MAX_CHARS
    with pytest.raises(WelcomeTextError, match="欢迎语太长（301 字），最多 300 字"):
        checked_welcome_text("欢" * (WELCOME_MAX_CHARS + 1))
