"""The routing rules in front of the assistant, with the real reply path and a real (SQLite) outbox."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from bot.app import Application
from bot.domain.messages import InboundMessage, MessageKind, TriggerMode, strip_mentions
from bot.handlers.router import NON_TEXT_HINT, RATE_LIMITED_TEXT, MessageRouter, RateLimits
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.storage.channel import SqlGroupConfigs, SqlOutbox
from bot.storage.engine import make_engine, session_factory, upgrade
from tests.support.clock import FakeClock
from tests.support.services import ready_services

_ids = itertools.count()


@pytest.fixture(scope="module")
def knowledge(
    tmp_path_factory: pytest.TempPathFactory, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> Application:
    return ready_services(tmp_path_factory.mktemp("data"), use_embeddings)


@pytest.fixture
def parts(tmp_path: Path, knowledge: Application) -> tuple[MessageRouter, SqlGroupConfigs, SqlOutbox]:
    engine = make_engine(f"sqlite:///{tmp_path / 'runtime.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    groups = SqlGroupConfigs(sessions, enabled_by_default=True, keywords=("小助手", "#问"))
    outbox = SqlOutbox(sessions)
    router = MessageRouter(
        knowledge.assistant,
        groups,
        outbox,
        FakeClock(),
        bot_names=("社区小助手",),
        other_bot_ids=("wxid_otherbot",),
        limits=RateLimits(per_resident=3, per_group=100),
    )
    return router, groups, outbox


def message(
    text: str,
    *,
    sender: str = "wxid_li",
    group: str = "room-3",
    mentions_self: bool = False,
    kind: MessageKind = MessageKind.TEXT,
    message_id: str | None = None,
    from_self: bool = False,
) -> InboundMessage:
    return InboundMessage(
        message_id=message_id or f"m{next(_ids)}",
        channel="wechat",
        sender_id=sender,
        sender_name="李阿姨",
        text=text,
        kind=kind,
        at=FakeClock().now(),
        group_id=group,
        group_name="3号楼群" if group else "",
        mentions_self=mentions_self,
        from_self=from_self,
    )


def test_a_mentioned_question_is_answered_mentioning_the_asker(
    parts: tuple[MessageRouter, SqlGroupConfigs, SqlOutbox],
) -> None:
    router, _, outbox = parts
    handling = router.handle(message("灭火器过期了找谁换", mentions_self=True))
    assert handling.outcome == "answered"
    (reply,) = handling.replies
    assert reply.group_id == "room-3" and reply.mention_ids == ("wxid_li",) and reply.user_id == ""
    assert "物业" in reply.text and "来源" in reply.text
    assert [q.message for q in outbox.due(now=FakeClock().now(), limit=10)] == [reply]


def test_a_reply_goes_out_from_the_account_that_was_asked(
    parts: tuple[MessageRouter, SqlGroupConfigs, SqlOutbox],
) -> None:
    router, _, outbox = parts
    asked = dataclasses.replace(message("社区图书馆几点开门", group=""), account="wxid_bot2")
    (reply,) = router.handle(asked).replies
    assert (reply.user_id, reply.account) == ("wxid_li", "wxid_bot2")
    (queued,) = [q.message for q in outbox.due(now=FakeClock().now(), limit=10)]
    assert queued == reply  # stored pinned: only wxid_bot2's sender claims it


@pytest.mark.parametrize(
    "text",
    [
        "@社区小助手 灭火器过期了找谁换",
        "@社区小助手\u2005灭火器过期了找谁换",
        "小助手 灭火器过期了找谁换",
        "#问 灭火器过期了找谁换",
        "＠社区小助手灭火器过期了找谁换",
    ],
)
def test_typed_mentions_and_keyword_prefixes_trigger(
    parts: tuple[MessageRouter, SqlGroupConfigs, SqlOutbox], text: str
) -> None:
    router, _, _ = parts
    assert router.handle(message(text)).outcome == "answered"


def test_unaddressed_group_chatter_is_ignored(parts: tuple[MessageRouter, SqlGroupConfigs, SqlOutbox]) -> None:
    router, _, outbox = parts
    assert router.handle(message("灭火器过期了找谁换")).outcome == "not_addressed"
    assert outbox.due(now=FakeClock().now(), limit=10) == []


def test_private_chat_gets_a_plain_reply(parts: tuple[MessageRouter, SqlGroupConfigs, SqlOutbox]) -> None:
    router, _, _ = parts
    handling = router.handle(message("社区食堂几点开饭", group=""))
    (reply,) = handling.replies
    assert handling.outcome == "answered" and reply.user_id == "wxid_li" and reply.mention_ids == ()


def test_a_disabled_group_is_ignored_entirely(parts: tuple[MessageRouter, SqlGroupConfigs, SqlOutbox]) -> None:
    router, groups, _ = parts
    router.handle(message("你好", mentions_self=True, group="room-9"))
    groups.update("room-9", enabled=False, now=FakeClock().now())
    assert router.handle(message("灭火器过期了找谁换", mentions_self=True, group="room-9")).outcome == "group_disabled"


def test_the_bot_never_answers_itself_or_other_bots(parts: tuple[MessageRouter, SqlGroupConfigs, SqlOutbox]) -> None:
    router, _, _ = parts
    assert router.handle(message("灭火器过期了找谁换", mentions_self=True, from_self=True)).outcome == "ignored_bot"
    assert router.handle(message("@社区小助手 你好", sender="wxid_otherbot")).outcome == "ignored_bot"


def test_a_duplicate_delivery_is_answered_once(parts: tuple[MessageRouter, SqlGroupConfigs, SqlOutbox]) -> None:
    router, _, outbox = parts
    first = router.handle(message("灭火器过期了找谁换", mentions_self=True, message_id="dup-1"))
    again = router.handle(message("灭火器过期了找谁换", mentions_self=True, message_id="dup-1"))
    assert (first.outcome, again.outcome) == ("answered", "duplicate")
    assert len(outbox.due(now=FakeClock().now(), limit=10)) == 1


def test_non_text_gets_a_hint_only_when_addressed(parts: tuple[MessageRouter, SqlGroupConfigs, SqlOutbox]) -> None:
    router, _, _ = parts
    hinted = router.handle(message("", kind=MessageKind.VOICE, mentions_self=True))
    assert hinted.outcome == "non_text_hint" and hinted.replies[0].text == NON_TEXT_HINT
    for kind in (MessageKind.IMAGE, MessageKind.RED_PACKET, MessageKind.SYSTEM):
        assert router.handle(message("", kind=kind)).outcome == "not_addressed"


def test_a_flood_is_rate_limited_with_one_notice(parts: tuple[MessageRouter, SqlGroupConfigs, SqlOutbox]) -> None:
    router, _, _ = parts
    outcomes = [
        router.handle(message(f"@社区小助手 灭火器过期了找谁换{n}", sender="wxid_flood")).outcome for n in range(6)
    ]
    assert outcomes[:3] == ["answered"] * 3
    assert outcomes[3] == "rate_limited" and outcomes[4:] == ["rate_limited_silent"] * 2
    notice = router.handle(message("@社区小助手 你好", sender="wxid_other")).outcome
    assert notice != "rate_limited"  # other residents are not affected
    assert RATE_LIMITED_TEXT


def test_strip_mentions() -> None:
    assert strip_mentions("@社区小助手\u2005高龄津贴", ["社区小助手"]) == ("高龄津贴", True)
    assert strip_mentions("@小助手 @社区小助手 在吗", ["社区小助手", "小助手"]) == ("在吗", True)
    assert strip_mentions("@张三 在吗", ["社区小助手"]) == ("@张三 在吗", False)


def test_the_group_trigger_mode_decides_what_is_addressed_to_the_assistant(
    parts: tuple[MessageRouter, SqlGroupConfigs, SqlOutbox],
) -> None:
    router, groups, _ = parts
    router.handle(message("你好", mentions_self=True, group="room-7"))  # registers the group (keyword mode)
    now = FakeClock().now()
    assert router.handle(message("小助手 灭火器过期了找谁换", group="room-7")).outcome == "answered"
    assert router.handle(message("灭火器过期了找谁换", group="room-7")).outcome == "not_addressed"

    groups.update("room-7", trigger=TriggerMode.MENTION, now=now)
    assert router.handle(message("小助手 灭火器过期了找谁换", group="room-7")).outcome == "not_addressed"
    assert router.handle(message("灭火器过期了找谁换", mentions_self=True, group="room-7")).outcome == "answered"

    groups.update("room-7", trigger=TriggerMode.ALL, now=now)
    assert router.handle(message("灭火器过期了找谁换", sender="wxid_a", group="room-7")).outcome == "answered"
    picture = router.handle(message("", sender="wxid_a", group="room-7", kind=MessageKind.IMAGE))
    assert picture.outcome == "not_addressed"  # no "please type" hint for every photo in a busy group
