"""Group configuration, the processed-message ledger and the outbox on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.messages import OutboundMessage
from bot.storage.channel import SqlGroupConfigs, SqlOutbox

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_groups_register_with_defaults_and_staff_settings_stick(sessions: sessionmaker[Session]) -> None:
    groups = SqlGroupConfigs(sessions, enabled_by_default=True, keywords=("小助手",))
    first = groups.get_or_register(group_id="room-1", channel="wechat", name="3号楼", now=NOW)
    assert (first.enabled, first.keywords, first.name) == (True, ("小助手",), "3号楼")
    groups.update("room-1", enabled=False, now=NOW)
    groups.update("room-1", keywords=("#问",), now=NOW)
    renamed = groups.get_or_register(group_id="room-1", channel="wechat", name="3号楼业主群", now=NOW)
    assert (renamed.enabled, renamed.keywords, renamed.name) == (False, ("#问",), "3号楼业主群")
    with pytest.raises(KeyError):
        groups.update("no-such-room", enabled=True, now=NOW)


def test_a_message_is_completed_once(sessions: sessionmaker[Session]) -> None:
    outbox = SqlOutbox(sessions)
    reply = OutboundMessage("wechat", "答复", group_id="room-1", mention_ids=("wxid_a",))
    assert not outbox.seen("msg-1")
    assert outbox.complete("msg-1", [reply], now=NOW)
    assert outbox.seen("msg-1")
    assert not outbox.complete("msg-1", [reply], now=NOW)  # a second delivery queues nothing
    assert [q.message for q in outbox.due(now=NOW, limit=10)] == [reply]


def test_outbox_retries_then_keeps_the_final_failure(sessions: sessionmaker[Session]) -> None:
    outbox = SqlOutbox(sessions)
    outbox.enqueue(OutboundMessage("wechat", "通知一", group_id="room-1"), now=NOW)
    outbox.enqueue(OutboundMessage("wechat", "通知二", group_id="room-2"), now=NOW + timedelta(seconds=1))
    first, second = outbox.due(now=NOW + timedelta(seconds=2), limit=10)
    outbox.mark_sent(first.id, now=NOW)
    outbox.mark_failed_attempt(second.id, "TimeoutError: gateway", retry_at=NOW + timedelta(minutes=1))
    assert outbox.due(now=NOW + timedelta(seconds=30), limit=10) == []
    (retry,) = outbox.due(now=NOW + timedelta(minutes=1), limit=10)
    assert retry.attempts == 1
    outbox.mark_failed_attempt(retry.id, "TimeoutError: gateway", retry_at=None)
    assert outbox.due(now=NOW + timedelta(days=1), limit=10) == []
    assert outbox.counts() == {"sent": 1, "failed": 1}


def test_old_ledger_entries_are_forgotten(sessions: sessionmaker[Session]) -> None:
    outbox = SqlOutbox(sessions)
    outbox.complete("old", [], now=NOW - timedelta(days=30))
    outbox.complete("new", [], now=NOW)
    assert outbox.forget_processed_before(NOW - timedelta(days=7)) == 1
    assert not outbox.seen("old") and outbox.seen("new")
