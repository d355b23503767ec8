"""Photos residents send in WeChat, over the real Wechaty protocol: a complaint filed in the group, then a picture
from the same resident is kept on that case without EXIF, acknowledged in the group and shown on the case page; a
picture with no case, or from someone else, files nothing and is answered by nobody; a damaged picture is refused
with the reason."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.console.app import create_console
from bot.domain.photos import PhotoSource
from bot.domain.staff import Role
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.runtime import WechatRuntime
from tests.support.console import ConsoleWorld, sign_in
from tests.support.gateway import TOKEN, Gateway, running_gateway, serving_in_thread
from tests.support.photos import opened, phone_jpeg
from tests.support.services import ready_services

pytestmark = pytest.mark.slow
ROOM = "room-3@chatroom"
# An upper bound on waiting for the bot on a loaded machine (it returns as soon as the bot has sent)
WAIT_S = 180.0


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with running_gateway() as running:
        yield running


def wait_for_outcome(services: object, count: int, timeout: float = WAIT_S) -> dict[str, int]:
    """Wait until count messages were settled in the inbox (handled or failed)."""
    inbox = services.inbox  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = inbox.counts()
        if counts.get("handled", 0) + counts.get("failed", 0) >= count:
            return dict(counts)
        time.sleep(0.1)
    raise AssertionError(f"inbox: {inbox.counts()}, expected {count} settled")


def test_a_picture_after_a_complaint_is_kept_on_the_case_and_shown_to_staff(
    gateway: Gateway, tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    services = ready_services(tmp_path, use_embeddings, send_interval_s=0.05, send_jitter_s=0.0)
    runtime = WechatRuntime(services, endpoint=gateway.endpoint, token=TOKEN, login_timeout_s=30)
    with serving_in_thread(runtime, poll_s=0.1):
        # A picture before any complaint: nothing filed, nobody answered in the group
        gateway.send_image("wxid_li", phone_jpeg(800, 600), room=ROOM)
        wait_for_outcome(services, 1)
        assert gateway.sent() == []

        gateway.say("wxid_li", "@社区小助手 报事 3号楼电梯坏了，老人下不了楼", room=ROOM, mentions=("bot",))
        (filed,) = gateway.wait_for_sent(1, timeout=WAIT_S)
        number = re.search(r"编号 (\d{4}-\d{4})", str(filed["text"]))
        assert number is not None, filed
        gateway.send_image("wxid_li", phone_jpeg(2400, 1800), room=ROOM)
        sent = gateway.wait_for_sent(2, timeout=WAIT_S)
        assert sent[1]["conversationId"] == ROOM and sent[1]["mentionIdList"] == ["wxid_li"]
        assert str(sent[1]["text"]).endswith(f"照片已收到，已附在诉求 {number.group(1)}（第 1 张）。"), sent[1]

        # Someone else's picture is not theirs to add; a damaged one is refused with the reason
        gateway.send_image("wxid_wang", phone_jpeg(640, 480), room=ROOM)
        gateway.send_image("wxid_li", phone_jpeg(640, 480)[:900], room=ROOM)
        sent = gateway.wait_for_sent(3, timeout=WAIT_S)
        assert "照片没有附上" in str(sent[2]["text"]) and "损坏" in str(sent[2]["text"]), sent[2]
        wait_for_outcome(services, 5)
        assert len(gateway.sent()) == 3

    petition = services.petitions.case(number.group(1))
    assert petition is not None
    (photo,) = services.photos.of_case(petition)
    assert photo.source is PhotoSource.WECHAT and max(photo.photo.width, photo.photo.height) == 1600
    stored = services.photos.content(photo)
    assert b"Exif" not in stored and b"PhoneMaker" not in stored
    assert services.inbox.counts().get("received", 0) == 0

    world = ConsoleWorld(services, create_console(services))
    world.user("chief", Role.ADMIN)
    staff = world.client()
    assert sign_in(staff, "chief").status_code == 303
    page = staff.get(f"/petitions/{petition.number}")
    assert page.status_code == 200 and "微信" in page.text
    (photo_id,) = re.findall(rf"/petitions/{petition.number}/photos/(\d+)", page.text)[:1]
    image = staff.get(f"/petitions/{petition.number}/photos/{photo_id}")
    assert image.status_code == 200 and opened(image.content).size == (1600, 1200)
