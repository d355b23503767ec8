"""Group configuration, the inbox, the processed-message ledger and the outbox on both databases."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.messages import MAX_MESSAGE_CHARS, InboundMessage, MessageKind, OutboundMessage
from bot.domain.outbox import QueuedMessage
from bot.storage.channel import SqlGroupConfigs, SqlInbox, SqlOutbox
from bot.storage.models import InboxRow

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
    outbox.enqueue(OutboundMessage("wechat", "通知一", group_id="room-1"), now=NOW, source="notice:1")
    outbox.enqueue(
        OutboundMessage("wechat", "通知二", group_id="room-2"), now=NOW + timedelta(seconds=1), source="notice:1"
    )
    first, second = _sending(outbox, now=NOW + timedelta(seconds=2))
    outbox.mark_sent(first.id, SENDER, now=NOW)
    outbox.mark_failed(second.id, SENDER, "TimeoutError: gateway", retry_at=NOW + timedelta(minutes=1))
    assert outbox.due(now=NOW + timedelta(seconds=30), limit=10) == []
    (retry,) = outbox.due(now=NOW + timedelta(minutes=1), limit=10)
    assert retry.attempts == 1
    _sending(outbox, now=NOW + timedelta(minutes=1))
    outbox.mark_failed(retry.id, SENDER, "TimeoutError: gateway", retry_at=None)
    assert outbox.due(now=NOW + timedelta(days=1), limit=10) == []
    assert outbox.counts() == {"sent": 1, "failed": 1}


SENDER, LEASE = "sender-1", timedelta(seconds=30)


def _sending(outbox: SqlOutbox, *, now: datetime, owner: str = SENDER) -> list[QueuedMessage]:
    """Claim what is due and mark it sending, as a sender does right before the gateway call."""
    claimed = outbox.claim_due(now=now, limit=10, owner=owner, lease=LEASE)
    assert all(outbox.start_send(entry.id, owner, now=now, lease=LEASE) for entry in claimed)
    return claimed


def test_old_ledger_entries_are_forgotten(sessions: sessionmaker[Session]) -> None:
    outbox = SqlOutbox(sessions)
    outbox.complete("old", [], now=NOW - timedelta(days=30))
    outbox.complete("new", [], now=NOW)
    assert outbox.forget_processed_before(NOW - timedelta(days=7)) == 1
    assert not outbox.seen("old") and outbox.seen("new")


def _inbound(message_id: str, text: str = "灭火器过期了找谁换", **fields: Any) -> InboundMessage:
    values: dict[str, Any] = {
        "channel": "wechat",
        "sender_id": "wxid_li",
        "sender_name": "李阿姨",
        "kind": MessageKind.TEXT,
        "at": NOW - timedelta(seconds=5),
        "group_id": "room-3",
        "group_name": "3号楼群",
        "mentions_self": True,
    }
    return InboundMessage(message_id=message_id, text=text, **{**values, **fields})


def test_the_inbox_keeps_messages_until_handled_and_gives_them_back_in_arrival_order(
    sessions: sessionmaker[Session],
) -> None:
    inbox, outbox = SqlInbox(sessions), SqlOutbox(sessions)
    later = _inbound("m-2", "社区食堂几点开饭", at=NOW - timedelta(minutes=1))  # an earlier timestamp, arrived later
    private = _inbound("m-3", "", kind=MessageKind.VOICE, group_id="", group_name="", mentions_self=False)
    for message in (_inbound("m-1"), later, private):
        assert inbox.receive(message, now=NOW)
    assert not inbox.receive(_inbound("m-1"), now=NOW)  # a redelivery is recorded once
    assert inbox.waiting() == [_inbound("m-1"), later, private]

    reply = OutboundMessage("wechat", "答复", group_id="room-3", mention_ids=("wxid_li",))
    assert outbox.complete("m-1", [reply], now=NOW)  # the same transaction marks it handled
    inbox.finish("m-3", "not_addressed", now=NOW)
    assert inbox.waiting() == [later]
    assert inbox.counts() == {"handled": 2, "received": 1}
    assert inbox.begin("m-1") is None and inbox.begin("m-3") is None
    with sessions() as session:  # a handled message no longer keeps the resident's words
        handled = session.execute(select(InboxRow.text, InboxRow.outcome, InboxRow.handled_at).order_by(InboxRow.id))
        assert handled.all()[0::2] == [("", "", NOW), ("", "not_addressed", NOW)]


def test_the_inbox_stores_any_message_the_channel_delivers_on_both_databases(sessions: sessionmaker[Session]) -> None:
    inbox = SqlInbox(sessions)
    text = "第一行\x00\x07\x1b[31m\r\n第二行\t完\x7f\x85" + "长" * 5000  # PostgreSQL refuses NUL in text
    message = _inbound("m-1\x00", text, sender_name="李\x00阿姨" * 100, group_name="3号\x00楼群", sender_id="x" * 300)
    assert inbox.receive(message, now=NOW)
    (stored,) = inbox.waiting()
    assert stored == message
    assert stored.text.startswith("第一行[31m\n第二行\t完长") and len(stored.text) == MAX_MESSAGE_CHARS
    assert stored.group_name == "3号楼群" and "\x00" not in stored.sender_name + stored.message_id


def test_attempts_are_counted_and_a_message_that_keeps_failing_is_failed_for_good(
    sessions: sessionmaker[Session],
) -> None:
    inbox = SqlInbox(sessions)
    inbox.receive(_inbound("m-1", "我的电话13912345678，高龄津贴怎么领"), now=NOW)
    assert inbox.begin("m-1") == 1
    inbox.record_failure("m-1", "RuntimeError: boom", give_up=False, now=NOW)
    assert [m.message_id for m in inbox.waiting()] == ["m-1"]  # tried again
    assert inbox.begin("m-1") == 2
    inbox.record_failure("m-1", "RuntimeError: boom again", give_up=True, now=NOW)
    assert inbox.waiting() == [] and inbox.begin("m-1") is None
    assert inbox.counts() == {"failed": 1}
    with sessions() as session:
        row = session.scalars(select(InboxRow)).one()
    assert (row.attempts, row.last_error, row.handled_at) == (2, "RuntimeError: boom again", NOW)
    assert "13912345678" not in row.text and "高龄津贴" in row.text  # kept for staff, masked


def test_settled_inbox_messages_are_forgotten_but_waiting_ones_never(sessions: sessionmaker[Session]) -> None:
    inbox = SqlInbox(sessions)
    for message_id in ("old-handled", "old-failed", "old-waiting"):
        inbox.receive(_inbound(message_id), now=NOW - timedelta(days=30))
    inbox.receive(_inbound("new-handled"), now=NOW)
    inbox.finish("old-handled", "answered", now=NOW - timedelta(days=30))
    inbox.finish("new-handled", "answered", now=NOW)
    inbox.record_failure("old-failed", "RuntimeError: boom", give_up=True, now=NOW - timedelta(days=30))
    assert inbox.forget_settled_before(NOW - timedelta(days=7)) == 2
    assert inbox.counts() == {"handled": 1, "received": 1}
    assert [m.message_id for m in inbox.waiting()] == ["old-waiting"]


def test_a_send_cut_off_by_a_stop_is_kept_unconfirmed_and_not_sent_again(sessions: sessionmaker[Session]) -> None:
    outbox = SqlOutbox(sessions)
    outbox.enqueue(OutboundMessage("wechat", "答复一", group_id="room-1"), now=NOW, source="reply:m-1")
    outbox.enqueue(OutboundMessage("wechat", "答复二", group_id="room-1"), now=NOW, source="reply:m-2")
    first, second = outbox.due(now=NOW, limit=10)
    assert outbox.claim_due(now=NOW, limit=1, owner="stopped", lease=LEASE) == [first]
    assert outbox.start_send(first.id, "stopped", now=NOW, lease=LEASE)
    assert not outbox.start_send(first.id, "stopped", now=NOW, lease=LEASE)
    assert outbox.due(now=NOW, limit=10) == [second]
    assert outbox.claim_due(now=NOW, limit=10, owner=SENDER, lease=LEASE) == [second]
    assert outbox.start_send(second.id, SENDER, now=NOW, lease=LEASE)
    outbox.mark_failed(second.id, SENDER, "TimeoutError: gateway", retry_at=NOW)  # a failed send is retried
    assert outbox.due(now=NOW, limit=10) == [dataclasses.replace(second, attempts=1)]
    assert outbox.recover_expired(now=NOW + LEASE / 2).unconfirmed == ()  # a live sender's send is left alone
    # The first was being sent when its process stopped: once its lease ran out it is unconfirmed
    assert len(outbox.recover_expired(now=NOW + LEASE).unconfirmed) == 1
    assert outbox.counts() == {"unconfirmed": 1, "queued": 1}
    assert [q.id for q in outbox.due(now=NOW + timedelta(days=1), limit=10)] == [second.id]


def test_a_database_error_never_carries_a_residents_text_into_the_log(database_url: str) -> None:
    import sqlalchemy as sa

    from bot.storage.engine import make_engine

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection, pytest.raises(sa.exc.DBAPIError) as caught:
            connection.execute(sa.text("INSERT INTO no_such_table VALUES (:text)"), {"text": "我电话13912345678"})
    finally:
        engine.dispose()
    assert "13912345678" not in str(caught.value)
