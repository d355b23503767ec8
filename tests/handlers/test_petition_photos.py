"""Pictures residents send in chat, through the router on both databases: kept with a complaint waiting for "1" and
put on its case once confirmed; kept on the case just filed within the window; answered with the reason when they
cannot be kept (damaged, the case full); left alone when they belong to no case (silent in a group, the hint to
write in private); the inbox keeps a picture beside its message only until the message is handled."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.domain.messages import InboundMessage, MessageKind
from bot.domain.photos import PhotoSource
from bot.handlers.context import Handling
from bot.handlers.router import NON_TEXT_HINT
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.storage.models import InboxPhotoRow, PendingPetitionPhotoRow
from tests.handlers.conftest import chat_application, resident_message
from tests.handlers.test_petitions import FILED, ComplaintsToo
from tests.support.clock import FakeClock
from tests.support.photos import phone_jpeg

ROOM = "room-3"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def runtime(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> Iterator[Application]:
    root = tmp_path_factory.mktemp("chat-photos")
    with chat_application(
        request.param, root, use_embeddings, classifier=ComplaintsToo(), photos_per_case=2
    ) as application:
        yield application


@pytest.fixture(autouse=True)
def a_new_hour(runtime: Application) -> None:
    """Each test starts past the rate limits and the photo window of the one before."""
    assert isinstance(runtime.clock, FakeClock)
    runtime.clock.advance(minutes=61)


def say(runtime: Application, text: str, *, sender: str, group: str = ROOM) -> Handling:
    return runtime.router.handle(resident_message(runtime, text, sender=sender, group=group))


def picture(runtime: Application, content: bytes, *, sender: str, group: str = ROOM) -> InboundMessage:
    """An image message as the runtime records it: checked on arrival, in the inbox with its picture."""
    sent = resident_message(runtime, "", sender=sender, group=group, mention=False, kind=MessageKind.IMAGE)
    checked = replace(sent, photo=runtime.photos.received(content))
    assert runtime.inbox.receive(checked, now=runtime.clock.now())
    return checked


def send_picture(runtime: Application, content: bytes, *, sender: str, group: str = ROOM) -> Handling:
    return runtime.router.handle(picture(runtime, content, sender=sender, group=group))


def text_of(handling: Handling) -> str:
    (reply,) = handling.replies
    return reply.text


def count(runtime: Application, table: type[InboxPhotoRow] | type[PendingPetitionPhotoRow]) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_picture_after_filing_goes_on_that_case_up_to_the_limit(runtime: Application) -> None:
    filed = FILED.match(text_of(say(runtime, "报事 3号楼电梯坏了", sender="wxid_a")))
    assert filed is not None
    number = filed.group(1)
    runtime.clock.advance(minutes=5)
    first = send_picture(runtime, phone_jpeg(900, 600), sender="wxid_a")
    assert (first.outcome, text_of(first)) == ("petition_photo", f"照片已收到，已附在诉求 {number}（第 1 张）。")
    again = send_picture(runtime, phone_jpeg(900, 600), sender="wxid_a")  # the same picture twice: kept once
    assert text_of(again) == f"照片已收到，已附在诉求 {number}（第 1 张）。"
    assert "第 2 张" in text_of(send_picture(runtime, phone_jpeg(700, 500), sender="wxid_a"))
    full = send_picture(runtime, phone_jpeg(640, 480), sender="wxid_a")
    assert full.outcome == "petition_photo_refused" and "已经有 2 张照片了" in text_of(full)
    damaged = send_picture(runtime, phone_jpeg(640, 480)[:700], sender="wxid_a")
    assert text_of(damaged) == f"诉求 {number}的照片没有附上：照片文件已损坏，无法打开，请重新拍一张。"
    petition = runtime.petitions.case(number)
    assert petition is not None
    assert [p.source for p in runtime.photos.of_case(petition)] == [PhotoSource.WECHAT, PhotoSource.WECHAT]
    assert count(runtime, InboxPhotoRow) == 0 and runtime.inbox.waiting() == []


def test_a_picture_with_no_case_is_left_alone(runtime: Application) -> None:
    assert FILED.match(text_of(say(runtime, "报事 5号楼路灯坏了", sender="wxid_b")))
    neighbour = send_picture(runtime, phone_jpeg(640, 480), sender="wxid_c")  # not their case
    assert neighbour.outcome == "not_addressed" and not neighbour.replies
    runtime.clock.advance(minutes=31)  # past the window
    late = send_picture(runtime, phone_jpeg(640, 480), sender="wxid_b")
    assert late.outcome == "not_addressed" and not late.replies
    private = send_picture(runtime, phone_jpeg(640, 480), sender="wxid_b", group="")
    assert text_of(private) == NON_TEXT_HINT


def test_pictures_sent_before_confirming_go_on_the_case_once_confirmed(runtime: Application) -> None:
    asked = say(runtime, "楼道灯坏了好几天", sender="wxid_d")
    assert asked.outcome == "petition_to_confirm"
    held = send_picture(runtime, phone_jpeg(800, 800), sender="wxid_d")
    assert (held.outcome, text_of(held)) == (
        "petition_photo_held",
        "照片已收到（第 1 张），回复 1 确认登记诉求后会一并附上。",
    )
    assert count(runtime, PendingPetitionPhotoRow) == 1
    filed = say(runtime, "1", sender="wxid_d")
    match = FILED.match(text_of(filed))
    assert match is not None
    petition = runtime.petitions.case(match.group(1))
    assert petition is not None
    (photo,) = runtime.photos.of_case(petition)
    assert (photo.photo.width, photo.photo.height) == (800, 800)
    assert count(runtime, PendingPetitionPhotoRow) == 0

    # A complaint dropped (the resident says something else) forgets its pictures
    assert say(runtime, "垃圾桶满了没人管", sender="wxid_e").outcome == "petition_to_confirm"
    send_picture(runtime, phone_jpeg(500, 500), sender="wxid_e")
    say(runtime, "高龄补贴怎么申请", sender="wxid_e")
    assert count(runtime, PendingPetitionPhotoRow) == 0


def test_a_picture_waiting_in_the_inbox_at_a_restart_is_handled_with_its_picture(runtime: Application) -> None:
    filed = FILED.match(text_of(say(runtime, "报事 7号楼门禁坏了", sender="wxid_f")))
    assert filed is not None
    recorded = picture(runtime, phone_jpeg(1000, 750), sender="wxid_f")  # recorded, then the process stopped
    (waiting,) = [m for m in runtime.inbox.waiting() if m.message_id == recorded.message_id]
    assert waiting.photo is not None and waiting.photo == recorded.photo
    assert waiting.photo.content == recorded.photo.content and waiting.image == b""
    handled = runtime.router.handle(waiting)
    assert text_of(handled) == f"照片已收到，已附在诉求 {filed.group(1)}（第 1 张）。"
    assert recorded.message_id not in {m.message_id for m in runtime.inbox.waiting()}
    with runtime.sessions() as session:
        assert session.get(InboxPhotoRow, recorded.message_id) is None
