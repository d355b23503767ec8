"""End to end over the real Wechaty protocol: the Node puppet-service gateway serving the mock puppet on loopback,
the real python-wechaty client, router, assistant, outbox and sender."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import Application
from bot.domain.messages import InboundMessage
from bot.handlers.router import Handling
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.runtime import WechatRuntime
from bot.storage.models import InboxRow
from tests.support.gateway import TOKEN, Gateway, running_gateway, serving_in_thread
from tests.support.services import ready_services

pytestmark = pytest.mark.slow
ROOM, OTHER_ROOM = "room-3@chatroom", "room-5@chatroom"


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with running_gateway() as running:
        yield running


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> Application:
    return ready_services(
        tmp_path_factory.mktemp("data"),
        use_embeddings,
        send_interval_s=0.05,
        send_jitter_s=0.0,
        rate_per_resident_per_minute=4,
    )


@pytest.fixture(scope="module")
def bot(gateway: Gateway, services: Application) -> Iterator[WechatRuntime]:
    """The runtime in its own event loop thread, connected to the gateway."""
    runtime = WechatRuntime(services, endpoint=gateway.endpoint, token=TOKEN, login_timeout_s=30)
    runtime.application.groups.get_or_register(
        group_id=OTHER_ROOM, channel="wechat", name="5号楼", now=services.clock.now()
    )
    runtime.application.groups.update(OTHER_ROOM, enabled=False, now=services.clock.now())
    with serving_in_thread(runtime, poll_s=0.1):
        yield runtime


def _new_sent(gateway: Gateway, before: int, count: int = 1, timeout: float = 20.0) -> list[dict[str, object]]:
    return gateway.wait_for_sent(before + count, timeout=timeout)[before:]


def test_a_mentioned_question_gets_the_grounded_answer_mentioning_the_asker(
    gateway: Gateway, bot: WechatRuntime, services: Application
) -> None:
    before = len(gateway.sent())
    gateway.say("wxid_li", "@社区小助手\u2005灭火器过期了找谁换", room=ROOM, mentions=("bot",))
    (reply,) = _new_sent(gateway, before)
    assert reply["conversationId"] == ROOM and reply["mentionIdList"] == ["wxid_li"]
    expected = services.answering.answer("灭火器过期了找谁换").text
    assert str(reply["text"]).endswith(expected) and str(reply["text"]).startswith("@李阿姨")


def test_unmentioned_chatter_and_a_disabled_group_are_ignored(gateway: Gateway, bot: WechatRuntime) -> None:
    before = len(gateway.sent())
    gateway.say("wxid_wang", "今天天气真好，灭火器过期了找谁换", room=ROOM)
    gateway.say("wxid_wang", "@社区小助手 灭火器过期了找谁换", room=OTHER_ROOM, mentions=("bot",))
    gateway.say("wxid_li", "@社区小助手 社区食堂几点开饭", room=ROOM, mentions=("bot",))  # a marker after them
    (reply,) = _new_sent(gateway, before)
    assert "早餐" in str(reply["text"]) or "食堂" in str(reply["text"])
    time.sleep(0.5)
    assert len(gateway.sent()) == before + 1


def test_private_chat_gets_a_plain_reply(gateway: Gateway, bot: WechatRuntime) -> None:
    before = len(gateway.sent())
    gateway.say("wxid_wang", "社区图书馆几点开门")
    (reply,) = _new_sent(gateway, before)
    assert reply["conversationId"] == "wxid_wang" and reply["mentionIdList"] == []
    assert "图书馆" in str(reply["text"])


def test_a_duplicate_delivery_is_answered_once(gateway: Gateway, bot: WechatRuntime) -> None:
    before = len(gateway.sent())
    gateway.say("wxid_li", "@社区小助手 居住证在哪里办", room=ROOM, mentions=("bot",))
    _new_sent(gateway, before)
    message_id = next(m["id"] for m in reversed(gateway.received()) if "居住证在哪里办" in str(m["text"]))
    gateway.redeliver(str(message_id))
    gateway.say("wxid_li", "@社区小助手 谢谢", room=ROOM, mentions=("bot",))  # a marker after the duplicate
    (thanks,) = _new_sent(gateway, before + 1)
    assert "不客气" in str(thanks["text"])
    time.sleep(0.3)
    assert len(gateway.sent()) == before + 2


def test_a_flood_is_rate_limited(gateway: Gateway, bot: WechatRuntime) -> None:
    before = len(gateway.sent())
    for n in range(8):
        gateway.say("wxid_zhao", f"@社区小助手 垃圾几点可以扔{n}", room=ROOM, mentions=("bot",))
    replies = _new_sent(gateway, before, 5)
    time.sleep(1.0)
    replies = gateway.sent()[before:]
    assert len(replies) == 5  # 4 answers and one "too fast" notice; the rest dropped
    assert sum("您发得太快了" in str(r["text"]) for r in replies) == 1


def test_a_wrong_token_fails_with_a_clear_error(gateway: Gateway, services: Application, tmp_path: Path) -> None:
    from bot.channels.wechaty import WechatyChannel, WechatyChannelError

    async def attempt() -> None:
        async def ignore(_: object) -> None:
            return None

        channel = WechatyChannel(endpoint=gateway.endpoint, token="wrong-token", on_message=ignore, login_timeout_s=5)
        await channel.start()

    with pytest.raises(WechatyChannelError, match="没有在 5 秒内登录"):
        asyncio.run(attempt())


def test_a_message_the_router_fails_on_is_recorded_as_failed_and_the_others_are_still_answered(
    gateway: Gateway,
    bot: WechatRuntime,
    services: Application,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    route = bot.application.router.handle

    def failing_on_one(message: InboundMessage) -> Handling:
        if "高龄津贴" in message.text:
            raise RuntimeError(f"unexpected trouble with {message.text!r}")
        return route(message)

    monkeypatch.setattr(bot.application.router, "handle", failing_on_one)
    caplog.set_level(logging.INFO, logger="bot.runtime")
    before = len(gateway.sent())
    gateway.say("wxid_wang", "@社区小助手 我的电话13912345678，高龄津贴怎么领", room=ROOM, mentions=("bot",))
    gateway.say("wxid_wang", "@社区小助手 社区图书馆几点开门", room=ROOM, mentions=("bot",))
    (reply,) = _new_sent(gateway, before)
    assert "图书馆" in str(reply["text"])

    def failed() -> list[InboxRow]:
        with services.sessions() as session:
            return list(session.scalars(select(InboxRow).where(InboxRow.status == "failed")))

    deadline = time.monotonic() + 20
    while not failed() and time.monotonic() < deadline:
        time.sleep(0.1)
    (row,) = failed()
    assert (row.attempts, row.sender_id) == (3, "wxid_wang")
    assert row.last_error.startswith("RuntimeError: unexpected trouble with") and "139****5678" in row.last_error
    assert caplog.text.count("RuntimeError: unexpected trouble") == 3  # each attempt logged with its traceback
    assert "13912345678" not in caplog.text + row.last_error + row.text  # residents' numbers masked everywhere


# Welcoming new members: the mock puppet emits WeChat's room-join when members are invited


def _welcomes(services: Application, room: str) -> list[str]:
    return [delivery.text for delivery in services.outbox.deliveries(f"welcome:{room}")]


def test_new_members_are_welcomed_once_with_a_mention_even_when_the_event_comes_again(
    gateway: Gateway, bot: WechatRuntime, services: Application
) -> None:
    before = len(gateway.sent())
    join = gateway.join(ROOM, {"wxid_chen": "新邻居小陈", "wxid_sun": "孙大爷"}, by="wxid_li")
    (welcome,) = _new_sent(gateway, before, timeout=60)
    assert welcome["conversationId"] == ROOM and sorted(welcome["mentionIdList"]) == ["wxid_chen", "wxid_sun"]
    text = str(welcome["text"])
    assert text.startswith("@新邻居小陈") and "@孙大爷" in text
    assert text.endswith(services.settings.welcome_text) and "@社区小助手" in text and "报事" in text

    gateway.rejoin(join)  # WeChat delivers the same event again
    gateway.join(ROOM, {"wxid_qian": "钱阿姨"}, by="wxid_wang")  # a marker after the duplicate
    (marker,) = _new_sent(gateway, before + 1, timeout=60)
    assert marker["mentionIdList"] == ["wxid_qian"]
    time.sleep(0.3)
    assert len(gateway.sent()) == before + 2
    assert len(_welcomes(services, ROOM)) == 2


def test_a_groups_own_welcome_is_used_and_a_group_without_one_or_without_the_assistant_welcomes_nobody(
    gateway: Gateway, bot: WechatRuntime, services: Application
) -> None:
    groups, now = services.groups, services.clock.now()
    groups.get_or_register(group_id="room-7@chatroom", channel="wechat", name="7号楼", now=now)
    groups.update("room-7@chatroom", welcome_text="欢迎来到7号楼群！有事@社区小助手。", now=now)
    before = len(gateway.sent())
    gateway.join(OTHER_ROOM, {"wxid_zhou": "周先生"}, by="wxid_wang")  # the assistant is off in this group
    groups.update(ROOM, welcome_enabled=False, now=now)
    gateway.join(ROOM, {"wxid_wu": "吴女士"}, by="wxid_li")  # welcome turned off here
    gateway.join("room-7@chatroom", {"wxid_zheng": "郑老师"}, by="wxid_r01")
    (welcome,) = _new_sent(gateway, before, timeout=60)
    assert welcome["conversationId"] == "room-7@chatroom" and welcome["mentionIdList"] == ["wxid_zheng"]
    assert re.fullmatch(r"@郑老师\s欢迎来到7号楼群！有事@社区小助手。", str(welcome["text"]))
    time.sleep(0.3)
    assert len(gateway.sent()) == before + 1
    assert _welcomes(services, OTHER_ROOM) == [] and len(_welcomes(services, ROOM)) == 2
    groups.update(ROOM, welcome_enabled=True, now=services.clock.now())
