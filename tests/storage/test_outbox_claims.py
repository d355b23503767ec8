"""The outbox on both databases: dedupe keys, claims under a lease, what a lease run out leaves behind, the delivery
record per target, and rows from before the claims migration."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.escalation import Asker
from bot.domain.messages import OutboundMessage
from bot.domain.outbox import UNCONFIRMED_NOTE, OutboxStatus, SendPriority
from bot.storage.channel import SqlOutbox
from bot.storage.engine import MIGRATIONS, make_engine, session_factory, upgrade
from bot.storage.unanswered import SqlUnansweredQuestions

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def _notice(text: str = "停水通知", group_id: str = "room-1") -> OutboundMessage:
    return OutboundMessage("wechat", text, group_id=group_id)


def test_the_same_dedupe_key_is_queued_once(sessions: sessionmaker[Session]) -> None:
    outbox = SqlOutbox(sessions)
    assert outbox.enqueue(_notice(), now=NOW, source="notice:5", dedupe_key="notice:5:room-1")
    assert not outbox.enqueue(_notice("改过的文字"), now=NOW, source="notice:5", dedupe_key="notice:5:room-1")
    # Without a key: the same source, target and text is one message; another group or text is another
    assert outbox.enqueue(_notice(), now=NOW, source="notice:6")
    assert not outbox.enqueue(_notice(), now=NOW, source="notice:6")
    assert outbox.enqueue(_notice(group_id="room-2"), now=NOW, source="notice:6")
    assert outbox.enqueue(_notice("第二条"), now=NOW, source="notice:6")
    assert outbox.counts() == {"queued": 4}
    assert [(d.target, d.text) for d in outbox.deliveries("notice:6")] == [
        ("wechat:group:room-1", "停水通知"),
        ("wechat:group:room-2", "停水通知"),
        ("wechat:group:room-1", "第二条"),
    ]


def test_replies_and_answers_carry_their_source_and_identical_ones_are_all_queued(
    sessions: sessionmaker[Session],
) -> None:
    outbox, questions = SqlOutbox(sessions), SqlUnansweredQuestions(sessions)
    same = OutboundMessage("wechat", "请稍候", group_id="room-1", mention_ids=("wxid_li",))
    assert outbox.complete("msg-1", [same, same], now=NOW)  # two identical replies to one message: both go
    assert [d.source for d in outbox.deliveries("reply:msg-1")] == ["reply:msg-1"] * 2

    asker = Asker("wechat", "room-1", "wxid_li", "能养鸽子吗", NOW)
    question = questions.create(
        question="能养鸽子吗", asker=asker, urgent=False, reason="low_confidence", candidates=(), community="", now=NOW
    )
    questions.join(question.id, asker, urgent=False)  # the same resident asked twice: two identical answers
    answer = OutboundMessage("wechat", "不能", group_id="room-1", mention_ids=("wxid_li",))
    questions.answer(question.id, answer="不能", by="张主任", now=NOW, replies=[answer, answer])
    deliveries = outbox.deliveries(f"question:{question.id}")
    assert [(d.target, d.status) for d in deliveries] == [("wechat:group:room-1", OutboxStatus.QUEUED)] * 2


def test_a_claim_is_held_by_one_sender_until_its_lease_runs_out(sessions: sessionmaker[Session]) -> None:
    outbox = SqlOutbox(sessions)
    for n in range(3):
        outbox.enqueue(_notice(f"通知{n}"), now=NOW + timedelta(seconds=n), source=f"notice:{n}")
    first = outbox.claim_due(now=NOW + timedelta(seconds=5), limit=2, owner="a", lease=LEASE)
    assert [q.message.text for q in first] == ["通知0", "通知1"]
    (rest,) = outbox.claim_due(now=NOW + timedelta(seconds=5), limit=10, owner="b", lease=LEASE)
    assert rest.message.text == "通知2" and rest.source == "notice:2"
    assert outbox.claim_due(now=NOW + timedelta(seconds=5), limit=10, owner="c", lease=LEASE) == []
    assert not outbox.start_send(first[0].id, "b", now=NOW, lease=LEASE)  # not b's claim
    assert outbox.start_send(first[0].id, "a", now=NOW + timedelta(seconds=6), lease=LEASE)
    assert outbox.counts() == {"claimed": 2, "sending": 1}

    # a stalls: its untouched claim runs out and is taken by the next sender; its send has a lease of its own
    assert outbox.recover_expired(now=NOW + timedelta(seconds=34)).requeued == 0  # still live
    expired = outbox.recover_expired(now=NOW + timedelta(seconds=35))
    assert (expired.requeued, expired.unconfirmed) == (2, ())
    assert outbox.counts() == {"queued": 2, "sending": 1}
    (taken,) = outbox.claim_due(now=NOW + timedelta(seconds=35), limit=1, owner="c", lease=LEASE)
    assert taken.id == first[1].id
    assert not outbox.start_send(first[1].id, "a", now=NOW + timedelta(seconds=36), lease=LEASE)  # a lost it
    assert outbox.mark_sent(first[0].id, "a", now=NOW + timedelta(seconds=36))
    assert not outbox.mark_sent(first[0].id, "a", now=NOW + timedelta(seconds=36))  # recorded once


def test_a_sender_of_one_channel_leaves_the_other_channels_messages_queued(sessions: sessionmaker[Session]) -> None:
    outbox = SqlOutbox(sessions)
    outbox.enqueue(_notice("给员工群的提醒", group_id="staff@chatroom"), now=NOW, source="question:1")
    outbox.enqueue(OutboundMessage("terminal", "给终端居民的答复", user_id="resident"), now=NOW, source="question:2")
    claimed = outbox.claim_due(now=NOW, limit=10, owner="terminal-sender", lease=LEASE, channel="terminal")
    assert [entry.message.text for entry in claimed] == ["给终端居民的答复"]
    assert outbox.counts() == {"claimed": 1, "queued": 1}


def test_urgent_messages_are_claimed_first_then_replies_then_bulk_each_oldest_first(
    sessions: sessionmaker[Session],
) -> None:
    outbox = SqlOutbox(sessions)
    for n, (text, priority) in enumerate(
        [
            ("例行通知1", SendPriority.BULK),
            ("答复1", SendPriority.NORMAL),
            ("例行通知2", SendPriority.BULK),
            ("停水紧急通知", SendPriority.URGENT),
            ("答复2", SendPriority.NORMAL),
        ]
    ):
        outbox.enqueue(_notice(text), now=NOW + timedelta(seconds=n), source=f"notice:{n}", priority=priority)
    later = NOW + timedelta(minutes=1)
    assert [entry.message.text for entry in outbox.due(now=later, limit=10)] == [
        "停水紧急通知",
        "答复1",
        "答复2",
        "例行通知1",
        "例行通知2",
    ]
    claimed = outbox.claim_due(now=later, limit=2, owner="a", lease=LEASE)
    assert [(entry.message.text, entry.priority) for entry in claimed] == [
        ("停水紧急通知", SendPriority.URGENT),
        ("答复1", SendPriority.NORMAL),
    ]
    assert outbox.more_urgent_due(SendPriority.BULK, now=later)
    assert not outbox.more_urgent_due(SendPriority.NORMAL, now=later)
    # A claim given back is queued again, untouched; another sender's claims are not given back
    assert outbox.release([entry.id for entry in claimed], "b") == 0
    assert outbox.release([entry.id for entry in claimed], "a") == 2
    assert outbox.counts() == {"queued": 5}


def test_a_send_whose_lease_ran_out_is_unconfirmed_listed_for_staff_and_can_be_sent_again(
    sessions: sessionmaker[Session],
) -> None:
    outbox = SqlOutbox(sessions)
    outbox.enqueue(_notice(), now=NOW, source="notice:5")
    outbox.enqueue(_notice(group_id="room-2"), now=NOW, source="notice:5")
    one, two = outbox.claim_due(now=NOW, limit=10, owner="dead", lease=LEASE)
    assert outbox.start_send(one.id, "dead", now=NOW, lease=LEASE)
    assert outbox.start_send(two.id, "dead", now=NOW, lease=LEASE)
    assert outbox.mark_sent(two.id, "dead", now=NOW + timedelta(seconds=1))
    expired = outbox.recover_expired(now=NOW + LEASE)
    assert [(d.id, d.status, d.last_error) for d in expired.unconfirmed] == [
        (one.id, OutboxStatus.UNCONFIRMED, UNCONFIRMED_NOTE)
    ]
    assert outbox.recover_expired(now=NOW + LEASE * 2).unconfirmed == ()  # counted once
    assert outbox.claim_due(now=NOW + LEASE * 2, limit=10, owner="next", lease=LEASE) == []  # never resent by itself
    assert outbox.unconfirmed() == list(expired.unconfirmed)
    sent = outbox.deliveries("notice:5")[1]
    assert (sent.status, sent.attempts, sent.sent_at, sent.target) == (
        OutboxStatus.SENT,
        1,
        NOW + timedelta(seconds=1),
        "wechat:group:room-2",
    )
    assert not outbox.resend(two.id, now=NOW)  # a sent message is not sent again
    assert outbox.resend(one.id, now=NOW + LEASE * 2)  # staff checked the group: it did not arrive
    (again,) = outbox.claim_due(now=NOW + LEASE * 2, limit=10, owner="next", lease=LEASE)
    assert (again.id, again.attempts) == (one.id, 0) and outbox.unconfirmed() == []


def test_a_sender_that_outlived_its_lease_still_records_what_the_gateway_said(sessions: sessionmaker[Session]) -> None:
    outbox = SqlOutbox(sessions)
    outbox.enqueue(_notice(), now=NOW, source="notice:5")
    (entry,) = outbox.claim_due(now=NOW, limit=1, owner="slow", lease=LEASE)
    assert outbox.start_send(entry.id, "slow", now=NOW, lease=LEASE)
    assert len(outbox.recover_expired(now=NOW + LEASE).unconfirmed) == 1  # another sender gave up on it
    assert outbox.mark_sent(entry.id, "slow", now=NOW + LEASE)  # then the gateway answered: it went out
    assert outbox.counts() == {"sent": 1} and outbox.unconfirmed() == []


def test_concurrent_claims_never_take_the_same_row(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    outbox = SqlOutbox(session_factory(engine))
    for n in range(120):
        outbox.enqueue(_notice(f"通知{n}"), now=NOW, source=f"notice:{n}")
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def claim_all(owner: str) -> None:
        own = make_engine(database_url)  # each sender its own connections
        try:
            mine = SqlOutbox(session_factory(own))
            start.wait()
            while batch := mine.claim_due(now=NOW, limit=3, owner=owner, lease=LEASE):
                claimed.setdefault(owner, []).extend(entry.id for entry in batch)
        finally:
            own.dispose()

    threads = [threading.Thread(target=claim_all, args=(f"sender-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    ids = [entry_id for owned in claimed.values() for entry_id in owned]
    assert len(ids) == len(set(ids)) == 120
    assert outbox.counts() == {"claimed": 120}
    engine.dispose()


def test_rows_from_before_the_claims_migration_get_keys_targets_and_their_interrupted_sends_settled(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    columns = "channel, group_id, user_id, mention_ids, text, status, attempts, not_before, last_error, created_at"
    rows = [("room-1", "", "queued"), ("", "wxid_li", "sending"), ("room-1", "", "sent")]
    with engine.begin() as connection:
        for group_id, user_id, status in rows:
            connection.execute(
                sa.text(
                    f"insert into outbox ({columns}) values "
                    "('wechat', :group_id, :user_id, '[]', '答复', :status, 0, :now, '', :now)"
                ),
                {"group_id": group_id, "user_id": user_id, "status": status, "now": NOW},
            )
    upgrade(engine)
    outbox = SqlOutbox(session_factory(engine))
    assert [(d.target, d.status, d.source) for d in outbox.deliveries("")] == [
        ("wechat:group:room-1", OutboxStatus.QUEUED, ""),
        ("wechat:user:wxid_li", OutboxStatus.UNCONFIRMED, ""),
        ("wechat:group:room-1", OutboxStatus.SENT, ""),
    ]
    assert outbox.unconfirmed()[0].last_error == UNCONFIRMED_NOTE
    with engine.connect() as connection:
        keys = connection.execute(sa.text("select dedupe_key from outbox order by id")).scalars().all()
    assert len(set(keys)) == 3
    # The identical legacy replies keep their own keys; the same reply queued now is a new row
    assert outbox.complete("msg-1", [OutboundMessage("wechat", "答复", group_id="room-1")], now=NOW)
    assert [q.source for q in outbox.due(now=NOW, limit=10)] == ["", "reply:msg-1"]
    engine.dispose()
