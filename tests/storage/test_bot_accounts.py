"""Several bot accounts on one outbox, on both databases: which account is in which group, and a sender of one
account claims only what that account can deliver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.messages import InboundMessage, MessageKind, OutboundMessage
from bot.domain.outbox import Membership, SendPriority, owner_account, sender_owner
from bot.storage.channel import SqlGroupAccounts, SqlInbox, SqlOutbox
from bot.storage.models import GroupAccountRow

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def _queue(outbox: SqlOutbox, rows: list[tuple[str, OutboundMessage]]) -> None:
    for n, (text, message) in enumerate(rows):
        assert outbox.enqueue(message, now=NOW + timedelta(seconds=n), source=f"notice:{n}", dedupe_key=text)


def _claim(outbox: SqlOutbox, account: str | None, *, limit: int = 50) -> list[str]:
    owner = sender_owner(account or "", f"host:1:{account}")
    claimed = outbox.claim_due(now=NOW + timedelta(minutes=1), limit=limit, owner=owner, lease=LEASE, account=account)
    return [entry.message.text for entry in claimed]


def test_accounts_record_their_groups_at_login_when_seen_and_when_they_leave(sessions: sessionmaker[Session]) -> None:
    groups = SqlGroupAccounts(sessions)
    groups.record(Membership("bot1", ("g1", "g2", "g3"), complete=True), now=NOW)
    groups.record(Membership("bot2", ("g2",), complete=True), now=NOW)
    assert [groups.accounts_in(g) for g in ("g1", "g2", "g3", "g4")] == [["bot1"], ["bot1", "bot2"], ["bot1"], []]

    later = NOW + timedelta(hours=1)
    groups.record(Membership("bot2", ("g4", "g2")), now=later)  # heard messages there: added, or seen again
    groups.record(Membership("bot1", ("g3",), member=False), now=later)  # removed from g3
    assert [groups.accounts_in(g) for g in ("g1", "g2", "g3", "g4")] == [["bot1"], ["bot1", "bot2"], [], ["bot2"]]
    with sessions() as session:
        seen = dict(
            session.execute(
                sa.select(GroupAccountRow.group_id, GroupAccountRow.seen_at).where(GroupAccountRow.account == "bot2")
            ).all()
        )
    assert seen == {"g2": later, "g4": later}

    # The next login's list is the whole truth: a group missing from it is forgotten, others are kept
    groups.record(Membership("bot1", ("g2", "g5"), complete=True), now=later)
    assert [groups.accounts_in(g) for g in ("g1", "g2", "g5")] == [[], ["bot1", "bot2"], ["bot1"]]


def test_a_sender_claims_only_what_its_account_can_deliver(sessions: sessionmaker[Session]) -> None:
    groups, outbox = SqlGroupAccounts(sessions), SqlOutbox(sessions)
    groups.record(Membership("bot1", ("only1", "both"), complete=True), now=NOW)
    groups.record(Membership("bot2", ("only2", "both"), complete=True), now=NOW)
    _queue(
        outbox,
        [
            ("to only1", OutboundMessage("wechat", "to only1", group_id="only1")),
            ("to only2", OutboundMessage("wechat", "to only2", group_id="only2")),
            ("to both", OutboundMessage("wechat", "to both", group_id="both")),
            ("to nobody's yet", OutboundMessage("wechat", "to nobody's yet", group_id="new")),
            ("reply by bot2", OutboundMessage("wechat", "reply by bot2", group_id="both", account="bot2")),
            ("private by bot1", OutboundMessage("wechat", "private by bot1", user_id="wxid_li", account="bot1")),
            ("private, anyone", OutboundMessage("wechat", "private, anyone", user_id="wxid_wang")),
        ],
    )
    due = NOW + timedelta(minutes=1)
    assert outbox.more_urgent_due(SendPriority.BULK, now=due, account="bot1")
    assert _claim(outbox, "bot1") == ["to only1", "to both", "to nobody's yet", "private by bot1", "private, anyone"]
    assert not outbox.more_urgent_due(SendPriority.BULK, now=due, account="bot1")  # what is left is not bot1's
    assert outbox.more_urgent_due(SendPriority.BULK, now=due, account="bot2")
    assert _claim(outbox, "bot2") == ["to only2", "reply by bot2"]
    assert outbox.counts() == {"claimed": 7}


def test_a_sender_of_no_particular_account_claims_everything_and_staff_see_who_sent(
    sessions: sessionmaker[Session],
) -> None:
    groups, outbox = SqlGroupAccounts(sessions), SqlOutbox(sessions)
    groups.record(Membership("bot1", ("g1",), complete=True), now=NOW)
    groups.record(Membership("bot2", ("g2",), complete=True), now=NOW)
    _queue(
        outbox,
        [
            ("a", OutboundMessage("wechat", "a", group_id="g1")),
            ("b", OutboundMessage("wechat", "b", group_id="g2")),
            ("c", OutboundMessage("wechat", "c", group_id="g1", account="bot2")),
        ],
    )
    (first,) = outbox.claim_due(
        now=NOW + timedelta(minutes=1), limit=1, owner="bot2|host:7:ab", lease=LEASE, account="bot2"
    )
    assert outbox.start_send(first.id, "bot2|host:7:ab", now=NOW, lease=LEASE)
    assert outbox.mark_sent(first.id, "bot2|host:7:ab", now=NOW)
    assert first.message.text == "b" and _claim(outbox, None) == ["a", "c"]  # a single sender takes what is left
    assert [(d.target, d.status, d.account) for d in outbox.deliveries("notice:1")] == [
        ("wechat:group:g2", "sent", "bot2")
    ]
    assert [d.account for d in outbox.deliveries("notice:2")] == ["bot2"]  # pinned, before any sender took it
    assert owner_account("host:1:ab") == "" and owner_account(sender_owner("wxid_a|b", "h:1:2")) == "wxid_a|b"


def test_the_inbox_keeps_the_account_a_message_came_to(sessions: sessionmaker[Session]) -> None:
    inbox = SqlInbox(sessions)
    message = InboundMessage("m-1", "wechat", "wxid_li", "李阿姨", "你好", MessageKind.TEXT, NOW, account="wxid_bot2")
    assert inbox.receive(message, now=NOW)
    assert inbox.waiting() == [message]  # handled after a restart, its reply still pinned to wxid_bot2
