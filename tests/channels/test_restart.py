"""A restart loses nothing: replies queued when the process is killed go out after it restarts, and messages it
already handled are not answered again (a real `python -m bot run` process, killed with SIGKILL)."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.domain.messages import InboundMessage, MessageKind
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.storage.models import InboxRow
from tests.conftest import REPO
from tests.support.gateway import TOKEN, Gateway, running_gateway, serving_in_thread
from tests.support.processes import BotProcess, start_bot
from tests.support.services import ready_services

pytestmark = pytest.mark.slow
ROOM = "room-3@chatroom"


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with running_gateway() as running:
        yield running


def _start(tmp_path: Path, gateway: Gateway, interval_s: float, **settings: str) -> BotProcess:
    return start_bot(tmp_path, gateway.endpoint, interval_s, **settings)


def _statuses(tmp_path: Path, table: str) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "assistant.db")) as db:
        return dict(db.execute(f"select status, count(*) from {table} group by status").fetchall())


def _outbox(tmp_path: Path) -> dict[str, int]:
    return _statuses(tmp_path, "outbox")


def _inbox(tmp_path: Path) -> dict[str, int]:
    return _statuses(tmp_path, "inbox")


def _residents_in_inbox(tmp_path: Path) -> int:
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "assistant.db")) as db:
        return int(db.execute("select count(*) from inbox where sender_id like 'wxid_r%'").fetchone()[0])


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (sqlite3.Error, OSError):  # not up yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _replies_to(gateway: Gateway, resident: str) -> int:
    return sum(resident in m["mentionIdList"] for m in gateway.sent())


def _logged_in(gateway: Gateway, marker: str) -> bool:
    gateway.say("wxid_wang", f"@社区小助手 你好{marker}", room=ROOM, mentions=("bot",))
    time.sleep(0.5)
    return any("@王师傅" in str(m["text"]) for m in gateway.sent())


def test_queued_replies_survive_a_kill_and_handled_messages_are_not_answered_again(
    tmp_path: Path, gateway: Gateway
) -> None:
    first = _start(tmp_path, gateway, interval_s=30.0)  # slow sending: replies pile up in the outbox
    try:
        first.wait_serving()
        questions = ["灭火器过期了找谁换", "社区食堂几点开饭", "社区图书馆几点开门"]
        for question in questions:
            gateway.say("wxid_li", f"@社区小助手 {question}", room=ROOM, mentions=("bot",))
        # The first reply leaves at once; the other two wait out the 30-second interval.
        _wait(lambda: _outbox(tmp_path) == {"sent": 1, "queued": 2}, 60, "one sent and two queued replies")
        first.kill()
    finally:
        first.stop()
    assert _replies_to(gateway, "wxid_li") == 1
    handled = [m["id"] for m in gateway.received() if any(q in str(m["text"]) for q in questions)]

    second = _start(tmp_path, gateway, interval_s=0.05)
    try:
        second.wait_serving()
        _wait(lambda: _replies_to(gateway, "wxid_li") >= 3, 90, "the queued replies")
        for message_id in handled:
            gateway.redeliver(str(message_id))
        _wait(
            lambda: second.log.read_text(errors="replace").count("delivered again: already received") == len(handled),
            60,
            "the redeliveries to be recognised",
        )
        assert _replies_to(gateway, "wxid_li") == 3
        assert _outbox(tmp_path).get("queued", 0) == 0
    finally:
        second.stop()


BURST_ROOM = "room-7@chatroom"
BURST_RESIDENTS = tuple(f"wxid_r{n:02d}" for n in range(1, 41))
BURST_QUESTIONS = (
    "灭火器过期了找谁换",
    "社区食堂几点开饭",
    "社区图书馆几点开门",
    "高龄津贴怎么申请",
    "残疾人补贴需要什么材料",
    "医保卡丢了怎么补办",
    "物业费怎么交",
    "楼道里能不能停电动车",
)


def test_kill_9_loses_no_message_received_but_not_yet_handled(tmp_path: Path, gateway: Gateway) -> None:
    """Fault 10: forty residents ask at once; the single handler thread works through them one by one while the
    rest wait in the inbox. SIGKILL then, restart: every one of them is answered, and each exactly once."""
    # Interval 30 s: the first reply leaves at once, the next not before the kill, so no send is cut in half.
    burst = {"BOT_RATE_PER_GROUP_PER_MINUTE": "1000"}
    first = _start(tmp_path, gateway, interval_s=30.0, **burst)
    try:
        first.wait_serving()
        for n, resident in enumerate(BURST_RESIDENTS):
            question = BURST_QUESTIONS[n % len(BURST_QUESTIONS)]
            gateway.say(resident, f"@社区小助手 {question}", room=BURST_ROOM, mentions=("bot",))

        def piled_up() -> bool:
            # Every question reached the process (the gateway would not send one again) and many wait unhandled.
            outbox = _outbox(tmp_path)
            return (
                _residents_in_inbox(tmp_path) == len(BURST_RESIDENTS)
                and _inbox(tmp_path).get("received", 0) >= 5
                and outbox.get("sent", 0) >= 1
                and not outbox.get("sending")
            )

        _wait(piled_up, 120, "every question received and many unhandled while the sender waits")
        first.kill()
    finally:
        first.stop()
    unhandled = _inbox(tmp_path).get("received", 0)
    assert unhandled >= 5
    assert sum(_replies_to(gateway, resident) for resident in BURST_RESIDENTS) <= 1

    second = _start(tmp_path, gateway, interval_s=0.05, **burst)
    try:
        second.wait_serving()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not all(_replies_to(gateway, r) for r in BURST_RESIDENTS):
            time.sleep(0.5)
        _wait(
            lambda: not _inbox(tmp_path).get("received") and not {"queued", "sending"} & set(_outbox(tmp_path)),
            60,
            "the inbox and the outbox to settle",
        )
        replies = {resident: _replies_to(gateway, resident) for resident in BURST_RESIDENTS}
        assert [r for r, count in replies.items() if count == 0] == []  # none lost
        assert {r: count for r, count in replies.items() if count > 1} == {}  # none answered twice
        assert set(_inbox(tmp_path)) == {"handled"}  # the residents' messages and the bot's own replies coming back
    finally:
        second.stop()


def test_kill_9_between_the_send_and_marking_it_sent_does_not_send_it_again(tmp_path: Path, gateway: Gateway) -> None:
    """The reply reached WeChat but the process died before it heard so. It is not sent a second time (a duplicate
    in a group is worse than the rare lost reply): the entry is kept as unconfirmed for staff."""
    first = _start(tmp_path, gateway, interval_s=0.05)
    try:
        first.wait_serving()
        gateway.hold_acknowledgements()
        gateway.say("wxid_zhao", "@社区小助手 社区食堂几点开饭", room=ROOM, mentions=("bot",))
        _wait(lambda: _replies_to(gateway, "wxid_zhao") == 1, 120, "the reply to reach the gateway")
        assert "sent" not in _outbox(tmp_path)  # the process has not heard that it went
        first.kill()
    finally:
        gateway.release_acknowledgements()
        first.stop()

    second = _start(tmp_path, gateway, interval_s=0.05)
    try:
        second.wait_serving()
        _wait(lambda: not {"queued", "sending"} & set(_outbox(tmp_path)), 60, "the outbox to settle")
        assert _replies_to(gateway, "wxid_zhao") == 1
        assert _outbox(tmp_path) == {"unconfirmed": 1}
    finally:
        second.stop()


def test_at_start_the_backlog_is_answered_and_a_message_that_stopped_the_process_three_times_is_failed(
    tmp_path: Path, gateway: Gateway, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    from bot.runtime import GAVE_UP, WechatRuntime

    services = ready_services(tmp_path / "data", use_embeddings, send_interval_s=0.05, send_jitter_s=0.0)
    runtime = WechatRuntime(services, endpoint=gateway.endpoint, token=TOKEN, login_timeout_s=30)
    inbox, now = runtime.application.inbox, services.clock.now()

    def asked(message_id: str, text: str) -> InboundMessage:
        return InboundMessage(
            message_id, "wechat", "wxid_wang", "王师傅", text, MessageKind.TEXT, now, ROOM, "幸福里3号楼群", True
        )

    inbox.receive(asked("before-restart-1", "高龄津贴怎么申请"), now=now)
    for _ in range(3):  # three processes picked it up and died before finishing
        assert inbox.begin("before-restart-1") is not None
    inbox.receive(asked("before-restart-2", "社区食堂几点开饭"), now=now)
    with serving_in_thread(runtime, poll_s=0.1):
        _wait(lambda: _replies_to(gateway, "wxid_wang") >= 1, 60, "the waiting message to be answered")
        _wait(lambda: not runtime.application.inbox.waiting(), 60, "the inbox to settle")
    assert _replies_to(gateway, "wxid_wang") == 1
    assert runtime.application.outbox.counts() == {"sent": 1}
    with services.sessions() as session:
        failed = session.scalars(select(InboxRow).where(InboxRow.status == "failed")).one()
    assert (failed.message_id, failed.attempts, failed.last_error) == ("before-restart-1", 4, GAVE_UP)


def test_a_dropped_connection_is_restored_with_backoff(tmp_path: Path) -> None:
    from bot.app import build_application
    from bot.config import Settings
    from bot.runtime import WechatRuntime
    from tests.support.gateway import free_port

    port, control = free_port(), free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        knowledge_dir=REPO / "knowledge",
        send_interval_s=0.05,
        send_jitter_s=0.0,
        _env_file=None,
    )  # type: ignore[call-arg]
    services = build_application(settings)
    services.ingestor.ingest(settings.knowledge_dir)
    with contextlib.ExitStack() as runtime_scope:
        with running_gateway(port=port, control=control) as gateway:
            runtime = WechatRuntime(services, endpoint=gateway.endpoint, token=TOKEN, login_timeout_s=30)
            halt = runtime_scope.enter_context(serving_in_thread(runtime, poll_s=0.1, health_s=0.5))
        # The gateway is gone (the runtime keeps running); a new one comes up on the same port.
        with running_gateway(port=port, control=control) as gateway:
            # A reconnect attempt made while the gateway was down may wait out its login timeout first.
            _wait(lambda: _logged_in(gateway, "again"), 240, "the runtime to reconnect and answer")
            assert halt() < 15  # stops cleanly, without the library's 60-second restart pause
