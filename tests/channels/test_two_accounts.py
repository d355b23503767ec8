"""Two WeChat accounts on one database: two `python -m bot run` processes, each logged in to its own Wechaty gateway
(bot1, bot2), sharing one outbox. Every group gets each message once, from an account that is in it; the groups both
accounts are in get theirs from both; a reply pinned to an account goes out from it; an account removed from a group
stops sending there."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.messages import OutboundMessage
from bot.domain.outbox import SendPriority
from bot.storage.channel import SqlGroupAccounts, SqlOutbox, queued_row
from bot.storage.engine import make_engine, session_factory, upgrade
from bot.storage.models import GroupAccountRow
from tests.support.gateway import Gateway, running_gateway
from tests.support.processes import start_bot

pytestmark = pytest.mark.slow
ONLY1, ONLY2, BOTH = "only1@chatroom", "only2@chatroom", "both@chatroom"
ROUNDS = 20


@pytest.fixture(scope="module")
def gateways() -> Iterator[tuple[Gateway, Gateway]]:
    with (
        running_gateway(bot="bot1:社区小助手一", rooms=(ONLY1, BOTH)) as first,
        running_gateway(bot="bot2:社区小助手二", rooms=(ONLY2, BOTH)) as second,
    ):
        yield first, second


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _queue(sessions: sessionmaker[Session], messages: list[tuple[str, OutboundMessage]]) -> None:
    """Queue bulk messages in one transaction (as a notice run does), so both senders find them together."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        for source, message in messages:
            session.add(queued_row(message, now, source=source, priority=SendPriority.BULK))


def _members(sessions: sessionmaker[Session], group: str) -> list[str]:
    with sessions() as session:
        query = select(GroupAccountRow.account).where(GroupAccountRow.group_id == group).order_by("account")
        return list(session.scalars(query))


def _received(gateway: Gateway) -> Counter[tuple[str, str]]:
    return Counter((str(m["conversationId"]), str(m["text"])) for m in gateway.sent())


def test_two_accounts_share_the_groups_deliver_each_message_once_and_spread_the_shared_groups(
    gateways: tuple[Gateway, Gateway], tmp_path: Path
) -> None:
    first, second = gateways
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(database)
    upgrade(engine)  # migrated once before both processes start on it
    sessions = session_factory(engine)
    (tmp_path / "kb").mkdir()
    bots = []
    for name, gateway in (("a", first), ("b", second)):
        (tmp_path / name).mkdir()
        settings = {"BOT_DATABASE_URL": database, "BOT_KNOWLEDGE_DIR": str(tmp_path / "kb")}
        bots.append(start_bot(tmp_path / name, gateway.endpoint, 0.2, **settings))
    try:
        for bot in bots:
            bot.wait_serving()
        # Each account recorded its group list when it logged in (before it started sending)
        assert [_members(sessions, g) for g in (ONLY1, ONLY2, BOTH)] == [["bot1"], ["bot2"], ["bot1", "bot2"]]

        messages = [
            (f"notice:test:{n}", OutboundMessage("wechat", f"第{n}号通知", group_id=group))
            for n in range(ROUNDS)
            for group in (ONLY1, ONLY2, BOTH)
        ]
        pinned = OutboundMessage("wechat", "您好，这是回复", user_id="wxid_li", account="bot2")
        _queue(sessions, [*messages, ("reply:private-1", pinned)])
        outbox = SqlOutbox(sessions)
        _wait(lambda: outbox.counts() == {"sent": len(messages) + 1}, 120, "every message sent")

        sent1, sent2 = _received(first), _received(second)
        assert first.refused() == second.refused() == []  # no account tried a group it is not in
        expected = Counter([(m.group_id, m.text) for _, m in messages] + [("wxid_li", pinned.text)])
        assert sent1 + sent2 == expected  # each message reached its group exactly once
        assert ("wxid_li", pinned.text) in sent2  # the pinned reply left from its account
        assert {g for g, _ in sent1} == {ONLY1, BOTH} and {g for g, _ in sent2} == {ONLY2, BOTH, "wxid_li"}
        from_first = sum(g == BOTH for g, _ in sent1)
        assert 0 < from_first < ROUNDS  # the shared group's messages were spread over both accounts
        # The delivery record says which account sent each one
        both_sources = {source for source, m in messages if m.group_id == BOTH}
        accounts = Counter(d.account for s in both_sources for d in outbox.deliveries(s) if d.target.endswith(BOTH))
        assert accounts == Counter({"bot1": from_first, "bot2": ROUNDS - from_first})

        # bot1 is removed from the shared group: it forgets it, and what follows goes out from bot2 only
        first.leave(BOTH)
        _wait(lambda: _members(sessions, BOTH) == ["bot2"], 30, "bot1 to forget the group it left")
        later = [
            (f"notice:later:{n}", OutboundMessage("wechat", f"后来的第{n}号通知", group_id=BOTH)) for n in range(5)
        ]
        _queue(sessions, later)
        _wait(lambda: outbox.counts() == {"sent": len(messages) + 1 + len(later)}, 60, "the later messages sent")
        assert sum(g == BOTH for g, _ in _received(second)) == ROUNDS - from_first + len(later)
        assert first.refused() == [] and SqlGroupAccounts(sessions).accounts_in(ONLY1) == ["bot1"]
    finally:
        for bot in bots:
            bot.stop()
        engine.dispose()
