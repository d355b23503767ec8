"""The unanswered-question loop over the real Wechaty protocol: a refused question reaches the staff room, the staff
answer reaches the resident @-mentioned in their own room."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.runtime import WechatRuntime
from tests.support.gateway import TOKEN, Gateway, running_gateway, serving_in_thread
from tests.support.services import ready_services

pytestmark = pytest.mark.slow
RESIDENTS_ROOM, STAFF_ROOM = "room-3@chatroom", "room-5@chatroom"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with running_gateway() as running:
        yield running


def test_staff_answer_in_the_staff_room_reaches_the_resident(
    gateway: Gateway, tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    services = ready_services(
        tmp_path, use_embeddings, staff_group_id=STAFF_ROOM, send_interval_s=0.05, send_jitter_s=0.0
    )
    runtime = WechatRuntime(services, endpoint=gateway.endpoint, token=TOKEN, login_timeout_s=30)
    with serving_in_thread(runtime, poll_s=0.1):
        gateway.say("wxid_li", "@社区小助手 小区里能不能养鸽子", room=RESIDENTS_ROOM, mentions=("bot",))
        first_two = gateway.wait_for_sent(2)
        refusal = next(m for m in first_two if m["conversationId"] == RESIDENTS_ROOM)
        notice = next(m for m in first_two if m["conversationId"] == STAFF_ROOM)
        assert refusal["conversationId"] == RESIDENTS_ROOM and "转给社区工作人员" in str(refusal["text"])
        assert notice["conversationId"] == STAFF_ROOM and str(notice["text"]).startswith("#1 【待答】")

        gateway.say("wxid_wang", "#1 答：小区不允许养鸽子。", room=STAFF_ROOM)  # staff need not @-mention the bot
        sent = gateway.wait_for_sent(4)
        answer = next(m for m in sent[2:] if m["conversationId"] == RESIDENTS_ROOM)
        ack = next(m for m in sent[2:] if m["conversationId"] == STAFF_ROOM)
        assert answer["mentionIdList"] == ["wxid_li"] and "小区不允许养鸽子" in str(answer["text"])
        assert "已把 #1 的答复发给 1 位居民" in str(ack["text"])
