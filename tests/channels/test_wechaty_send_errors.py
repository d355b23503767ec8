"""The WeChat gateway tells a send that can never succeed from one worth retrying (the real Wechaty protocol: the Node
puppet-service gateway serving the mock puppet on loopback)."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels.wechaty import WechatyChannel
from bot.domain.messages import InboundMessage, OutboundMessage
from bot.domain.outbox import PermanentSendError, TransientSendError
from tests.support.gateway import TOKEN, running_gateway

pytestmark = pytest.mark.slow


async def _ignore(message: InboundMessage) -> None:
    """No inbound handling here."""


def test_a_group_or_person_that_is_not_there_fails_for_good_and_no_connection_is_transient() -> None:
    async def sends(endpoint: str) -> list[BaseException | None]:
        channel = WechatyChannel(endpoint=endpoint, token=TOKEN, on_message=_ignore, login_timeout_s=30)
        await channel.start()
        outcomes: list[BaseException | None] = []
        try:
            for message in (
                OutboundMessage("wechat", "通知", group_id="room-3@chatroom"),
                OutboundMessage("wechat", "通知", group_id="dissolved@chatroom"),
                OutboundMessage("wechat", "通知", user_id="wxid_not_a_friend"),
                OutboundMessage("wechat", "答复", group_id="room-3@chatroom", mention_ids=("wxid_left",)),
            ):
                try:
                    await channel.send(message)
                    outcomes.append(None)
                except Exception as exc:
                    outcomes.append(exc)
        finally:
            await channel.stop()
        return outcomes

    with running_gateway() as gateway:
        sent, *gone = asyncio.run(sends(gateway.endpoint))
    assert sent is None
    assert all(isinstance(exc, PermanentSendError) for exc in gone), gone
    assert all("找不到这个群或这位居民" in str(exc) for exc in gone)
    never_connected = WechatyChannel(endpoint="127.0.0.1:1", token=TOKEN, on_message=_ignore)
    with pytest.raises(TransientSendError, match="微信未连接"):
        asyncio.run(never_connected.send(OutboundMessage("wechat", "通知", group_id="room-3@chatroom")))
