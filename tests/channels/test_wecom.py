"""WeCom group robots: dispatches POSTed in WeCom's documented JSON to a loopback robot webhook on a real socket,
answers mapped to sent / failed for good / retried, long texts split in order, keys never logged in full."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.channels.wecom import WecomRobotGateway
from bot.domain.messages import OutboundMessage
from bot.domain.outbox import OutboxStatus, PermanentSendError, TransientSendError
from bot.domain.wecom import CONTENT_LIMIT_BYTES, WECOM, check_robot_key, mask_key, mask_robot_keys, split_content
from bot.services.sending import OutboxSender, SenderThread, SendingPolicy
from bot.storage.channel import SqlOutbox
from bot.storage.engine import make_engine, session_factory, upgrade
from tests.support.clock import FakeClock
from tests.support.loopback import refusing_address
from tests.support.wecom_robot import OTHER_ROBOT_KEY, ROBOT_KEY, SEND_PATH, Answer, FakeRobots, fake_wecom

DISPATCH = "【诉求 2026-0012】请物业处理：幸福里3号楼电梯停在5楼不动，居民反映已两天。"


class VirtualTime:
    """A monotonic clock that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _gateway(
    url: str, *, timeout_s: float = 5.0, interval_s: float = 3.0, time: VirtualTime | None = None
) -> WecomRobotGateway:
    time = time or VirtualTime()
    return WecomRobotGateway(
        webhook_url=url, timeout_s=timeout_s, interval_s=interval_s, sleep=time.sleep, monotonic=time.monotonic
    )


def _send(gateway: WecomRobotGateway, message: OutboundMessage) -> None:
    asyncio.run(gateway.send(message))


@pytest.fixture
def robots() -> Iterator[FakeRobots]:
    with fake_wecom(ROBOT_KEY, OTHER_ROBOT_KEY) as robots:
        yield robots


def test_a_dispatch_is_posted_in_wecoms_json_with_the_key_as_parameter(robots: FakeRobots) -> None:
    message = OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY, mention_ids=("zhangwei", "@all"))
    _send(_gateway(robots.url), message)
    [request] = robots.requests
    assert request.path == SEND_PATH and request.query == {"key": [ROBOT_KEY]}
    assert request.content_type.startswith("application/json")
    assert request.body == {"msgtype": "text", "text": {"content": DISPATCH, "mentioned_list": ["zhangwei", "@all"]}}
    assert request.errcode == 0


def test_no_mentions_no_mentioned_list(robots: FakeRobots) -> None:
    _send(_gateway(robots.url), OutboundMessage(WECOM, DISPATCH, group_id=f"  {ROBOT_KEY} "))
    assert robots.requests[0].body == {"msgtype": "text", "text": {"content": DISPATCH}}
    assert robots.requests[0].key == ROBOT_KEY


@pytest.mark.parametrize(
    ("key", "text", "answer", "words"),
    [
        ("5f3c2a1b-0000-4f6a-9b7c-0e1d2c3b4a59", DISPATCH, None, "地址无效"),  # a key WeCom does not know: 93000
        (ROBOT_KEY, "   ", None, "空"),  # 44004
        (ROBOT_KEY, DISPATCH, Answer(40008), "消息类型"),
        (ROBOT_KEY, DISPATCH, Answer(status=404), "接口地址不对"),
    ],
)
def test_a_bad_key_or_content_fails_for_good(
    robots: FakeRobots, key: str, text: str, answer: Answer | None, words: str
) -> None:
    if answer is not None:
        robots.answer_next(answer)
    with pytest.raises(PermanentSendError) as raised:
        _send(_gateway(robots.url), OutboundMessage(WECOM, text, group_id=key))
    assert words in raised.value.reason and not re.search(r"[a-z]{3,}", raised.value.reason.replace("key", ""))
    assert len(robots.requests) == 1


@pytest.mark.parametrize(
    "key", ["", "not-a-key", f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={ROBOT_KEY}", ROBOT_KEY + "0"]
)
def test_a_key_not_shaped_like_one_is_refused_before_any_request(robots: FakeRobots, key: str) -> None:
    with pytest.raises(PermanentSendError, match="key 格式不对"):
        _send(_gateway(robots.url), OutboundMessage(WECOM, DISPATCH, group_id=key))
    assert robots.requests == []


@pytest.mark.parametrize(("answer", "words"), [(Answer(45009), "太频繁"), (Answer(status=503), "HTTP 503")])
def test_a_frequency_limit_or_server_error_may_work_later(robots: FakeRobots, answer: Answer, words: str) -> None:
    robots.answer_next(answer)
    with pytest.raises(TransientSendError) as raised:
        _send(_gateway(robots.url), OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY))
    assert words in raised.value.reason


def test_no_answer_in_time_may_work_later(robots: FakeRobots) -> None:
    release = threading.Event()
    robots.answer_next(Answer(release=release))
    try:
        with pytest.raises(TransientSendError, match="超时"):
            _send(_gateway(robots.url, timeout_s=0.3), OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY))
    finally:
        release.set()


def test_connection_refused_may_work_later() -> None:
    with refusing_address(SEND_PATH) as url, pytest.raises(TransientSendError, match="连不上"):
        _send(_gateway(url), OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY))


def test_a_robot_gets_at_most_twenty_a_minute_as_wecom_says(robots: FakeRobots) -> None:
    """The fake enforces WeCom's limit: the gateway's default spacing (3 s) is what keeps under it."""
    gateway = _gateway(robots.url, interval_s=0)
    for n in range(20):
        _send(gateway, OutboundMessage(WECOM, f"第{n}条", group_id=ROBOT_KEY))
    with pytest.raises(TransientSendError, match="太频繁"):
        _send(gateway, OutboundMessage(WECOM, "第21条", group_id=ROBOT_KEY))
    _send(gateway, OutboundMessage(WECOM, "另一个机器人", group_id=OTHER_ROBOT_KEY))  # the limit is per robot


def _long_text() -> str:
    lines = [f"第{n:02d}户：幸福里3号楼{n}单元反映楼道灯不亮，已经一周，老人晚上上下楼不方便。" for n in range(120)]
    return "\n".join(lines)


def test_split_keeps_every_character_in_order_within_the_limit() -> None:
    text = _long_text()
    parts = split_content(text)
    assert len(parts) > 2
    assert all(len(part.encode("utf-8")) <= CONTENT_LIMIT_BYTES for part in parts)
    marks = [f"（{n}/{len(parts)}）" for n in range(1, len(parts) + 1)]
    assert [part[: len(mark)] for part, mark in zip(parts, marks, strict=True)] == marks
    assert "".join(part[len(mark) :] for part, mark in zip(parts, marks, strict=True)) == text
    assert all(part.endswith("\n") for part in parts[:-1])  # cut at line ends
    assert split_content(DISPATCH) == [DISPATCH]
    unbroken = "电" * 3000  # no line or sentence end: cut at the byte limit, on character boundaries
    assert "".join(p.split("）", 1)[1] for p in split_content(unbroken)) == unbroken
    exact = "a" * CONTENT_LIMIT_BYTES
    assert split_content(exact) == [exact]


def test_a_long_text_goes_as_several_messages_in_order_spaced_for_the_robot(robots: FakeRobots) -> None:
    time, text = VirtualTime(), _long_text()
    gateway = _gateway(robots.url, time=time)
    _send(gateway, OutboundMessage(WECOM, text, group_id=ROBOT_KEY, mention_ids=("zhangwei",)))
    parts = split_content(text)
    assert [request.content for request in robots.delivered()] == parts
    assert [("mentioned_list" in request.body["text"]) for request in robots.requests] == [True] + [False] * (
        len(parts) - 1
    )
    assert time.sleeps == [3.0] * (len(parts) - 1)


def test_a_part_that_failed_is_retried_without_sending_the_earlier_parts_again(robots: FakeRobots) -> None:
    text = _long_text()
    parts = split_content(text)
    gateway = _gateway(robots.url)
    message = OutboundMessage(WECOM, text, group_id=ROBOT_KEY)
    robots.answer_next(Answer(0), Answer(45009))
    with pytest.raises(TransientSendError):
        _send(gateway, message)
    _send(gateway, message)
    assert [request.content for request in robots.delivered()] == parts  # each part once, in order
    _send(gateway, message)  # the same text again later is a new message: all of it again
    assert len(robots.delivered()) == 2 * len(parts)


def test_the_key_is_never_logged_in_full(robots: FakeRobots, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = _gateway(robots.url)
    _send(gateway, OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY))
    robots.answer_next(Answer(93000))
    with pytest.raises(PermanentSendError):
        _send(gateway, OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "HTTP Request: POST" in logged  # httpx's own line, with the address
    assert mask_key(ROBOT_KEY) in logged and ROBOT_KEY not in logged
    assert DISPATCH not in logged
    assert mask_key(ROBOT_KEY) == "5f3c****4a59"
    assert mask_robot_keys(f"wecom:group:{ROBOT_KEY} and ?key={ROBOT_KEY}&x") == (
        "wecom:group:5f3c****4a59 and ?key=5f3c****4a59&x"
    )
    assert check_robot_key(ROBOT_KEY.upper()) == ROBOT_KEY.upper()


# The outbox: what the sender records for each answer (SQLite and PostgreSQL)


def _outbox(database_url: str) -> SqlOutbox:
    engine = make_engine(database_url)
    upgrade(engine)
    return SqlOutbox(session_factory(engine))


def _wecom_sender(outbox: SqlOutbox, clock: FakeClock, url: str) -> OutboxSender:
    time = VirtualTime()
    policy = SendingPolicy(interval_s=3.0, jitter_s=0.0, max_attempts=5, backoff_s=5.0)
    return OutboxSender(
        outbox,
        _gateway(url, time=time),
        clock,
        policy,
        channel=WECOM,
        sleep=time.sleep,
        monotonic=time.monotonic,
    )


def test_sent_and_failed_for_good_as_the_outbox_records_them(database_url: str, robots: FakeRobots) -> None:
    outbox, clock = _outbox(database_url), FakeClock()
    outbox.enqueue(OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY), now=clock.now(), source="petition:1")
    unknown = "5f3c2a1b-0000-4f6a-9b7c-0e1d2c3b4a59"
    outbox.enqueue(OutboundMessage(WECOM, DISPATCH, group_id=unknown), now=clock.now(), source="petition:2")
    assert asyncio.run(_wecom_sender(outbox, clock, robots.url).send_due()) == 1
    [sent] = outbox.deliveries("petition:1")
    assert sent.status is OutboxStatus.SENT and sent.attempts == 1
    [failed] = outbox.deliveries("petition:2")
    assert failed.status is OutboxStatus.FAILED and failed.attempts == 1
    assert failed.last_error == "企业微信群机器人地址无效（key 不对，或机器人已被移出群）（错误码 93000），不再重试"
    clock.advance(hours=1)
    assert asyncio.run(_wecom_sender(outbox, clock, robots.url).send_due()) == 0
    assert len(robots.requests) == 2  # failed for good: never tried again


@pytest.mark.parametrize("trouble", ["45009", "503", "refused"])
def test_trouble_is_retried_after_a_backoff_then_sent(database_url: str, trouble: str) -> None:
    outbox, clock = _outbox(database_url), FakeClock()
    outbox.enqueue(OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY), now=clock.now(), source="petition:1")
    if trouble == "refused":  # WeCom unreachable on the first try: a closed port
        with fake_wecom(ROBOT_KEY) as gone:
            pass
        assert asyncio.run(_wecom_sender(outbox, clock, gone.url).send_due()) == 0
        assert gone.requests == []
    else:
        with fake_wecom(ROBOT_KEY) as robots:
            robots.answer_next(Answer(45009) if trouble == "45009" else Answer(status=503))
            assert asyncio.run(_wecom_sender(outbox, clock, robots.url).send_due()) == 0
            assert len(robots.requests) == 1
    [waiting] = outbox.deliveries("petition:1")
    assert waiting.status is OutboxStatus.QUEUED and waiting.attempts == 1 and waiting.last_error.endswith("稍后重试")
    with fake_wecom(ROBOT_KEY) as robots:
        clock.advance(seconds=4)
        assert asyncio.run(_wecom_sender(outbox, clock, robots.url).send_due()) == 0  # backoff 5 s not over
        clock.advance(seconds=1)
        assert asyncio.run(_wecom_sender(outbox, clock, robots.url).send_due()) == 1
        assert [request.content for request in robots.delivered()] == [DISPATCH]
    [sent] = outbox.deliveries("petition:1")
    assert sent.status is OutboxStatus.SENT and sent.attempts == 2


class RecordingGateway:
    """Stands in for the WeChat account: records what it was handed."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)


def test_the_wechat_sender_leaves_wecom_messages_alone_and_the_wecom_sender_wechats(
    database_url: str, robots: FakeRobots
) -> None:
    outbox, clock = _outbox(database_url), FakeClock()
    outbox.enqueue(OutboundMessage("wechat", "群里的答复", group_id="room@chatroom"), now=clock.now(), source="a")
    outbox.enqueue(OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY), now=clock.now(), source="b")
    wechat = RecordingGateway()
    wechat_sender = OutboxSender(outbox, wechat, clock, SendingPolicy(0, 0), channel="wechat")
    assert asyncio.run(wechat_sender.send_due()) == 1
    assert [m.text for m in wechat.sent] == ["群里的答复"]
    assert outbox.deliveries("b")[0].status is OutboxStatus.QUEUED
    outbox.enqueue(OutboundMessage("wechat", "又一条答复", group_id="room@chatroom"), now=clock.now(), source="c")
    assert asyncio.run(_wecom_sender(outbox, clock, robots.url).send_due()) == 1
    assert [request.content for request in robots.requests] == [DISPATCH]
    assert outbox.deliveries("c")[0].status is OutboxStatus.QUEUED


def test_a_sender_thread_delivers_what_is_queued_and_stops(database_url: str, robots: FakeRobots) -> None:
    outbox, clock = _outbox(database_url), FakeClock()
    sender = _wecom_sender(outbox, clock, robots.url)
    thread = SenderThread(sender, name="wecom-sender", poll_s=0.05)
    thread.start()
    try:
        outbox.enqueue(OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY), now=clock.now(), source="petition:1")
        assert [request.content for request in robots.wait_for(1, timeout_s=30)] == [DISPATCH]
    finally:
        thread.stop()
    assert not any(t.name == "wecom-sender" for t in threading.enumerate())


# The command line and the serving mode, as real processes


def _environment(tmp_path: Path, robots: FakeRobots, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "BOT_DATA_DIR": str(tmp_path / "data"),
        "BOT_WECOM_WEBHOOK_URL": robots.url,
        "BOT_WECOM_TIMEOUT_S": "5",
        **extra,
    }


def _wecom_test(tmp_path: Path, robots: FakeRobots, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "wecom-test", key],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_environment(tmp_path, robots),
        timeout=120,
    )


def test_wecom_test_sends_one_message_and_says_what_the_robot_answered(tmp_path: Path, robots: FakeRobots) -> None:
    done = _wecom_test(tmp_path, robots, ROBOT_KEY)
    assert done.returncode == 0, done.stderr
    assert "企业微信已收下测试消息（机器人 5f3c****4a59，返回码 0）" in done.stdout
    assert "BOT_WECOM_ENABLED 还没有打开" in done.stdout
    assert [request.key for request in robots.delivered()] == [ROBOT_KEY] and "测试" in robots.requests[0].content
    assert ROBOT_KEY not in done.stdout + done.stderr

    robots.answer_next(Answer(93000))
    refused = _wecom_test(tmp_path, robots, ROBOT_KEY)
    assert refused.returncode == 1 and "测试消息没有发出去" in refused.stdout and "错误码 93000" in refused.stdout
    assert "Traceback" not in refused.stderr

    malformed = _wecom_test(tmp_path, robots, "abc")
    assert malformed.returncode == 1 and "key 格式不对" in malformed.stdout
    assert len(robots.requests) == 2


def test_the_console_only_mode_delivers_queued_wecom_messages(tmp_path: Path, robots: FakeRobots) -> None:
    """`python -m bot run` with no WeChat and no terminal, robots turned on: a dispatch queued in the outbox on channel
    "wecom" reaches the robot, and the outbox records it sent."""
    from bot.app import build_application
    from bot.config import Settings
    from tests.support.gateway import free_port
    from tests.support.knowledge_files import small_knowledge_base
    from tests.support.processes import stop

    kb = small_knowledge_base(tmp_path / "kb")
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=kb, _env_file=None)  # type: ignore[call-arg]
    application = build_application(settings)
    application.outbox.enqueue(
        OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY, mention_ids=("zhangwei",)),
        now=application.clock.now(),
        source="petition:1",
    )
    environment = _environment(
        tmp_path,
        robots,
        BOT_KNOWLEDGE_DIR=str(kb),
        BOT_CONSOLE_PORT=str(free_port()),
        BOT_WECOM_ENABLED="true",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=environment,
    )
    try:
        requests = robots.wait_for(1, timeout_s=180)
        assert [request.body for request in requests] == [
            {"msgtype": "text", "text": {"content": DISPATCH, "mentioned_list": ["zhangwei"]}}
        ]
        assert requests[0].key == ROBOT_KEY
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, errors = process.communicate(timeout=60)
        finally:
            stop(process)
    assert process.returncode in (0, 130) and "Traceback" not in errors
    [delivery] = application.outbox.deliveries("petition:1")
    assert delivery.status is OutboxStatus.SENT


def test_an_interrupted_wecom_send_is_reported_with_the_key_masked(
    database_url: str, robots: FakeRobots, caplog: pytest.LogCaptureFixture
) -> None:
    outbox, clock = _outbox(database_url), FakeClock()
    outbox.enqueue(OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY), now=clock.now(), source="petition:1")
    lease = timedelta(seconds=30)
    [entry] = outbox.claim_due(now=clock.now(), limit=5, owner="stopped", lease=lease, channel=WECOM)
    assert outbox.start_send(entry.id, "stopped", now=clock.now(), lease=lease)
    clock.advance(seconds=31)  # the sender died mid-send
    caplog.set_level(logging.WARNING)
    assert asyncio.run(_wecom_sender(outbox, clock, robots.url).send_due()) == 0
    assert outbox.deliveries("petition:1")[0].status is OutboxStatus.UNCONFIRMED
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"wecom:group:{mask_key(ROBOT_KEY)}" in logged and ROBOT_KEY not in logged
    assert robots.requests == []


def test_the_wechat_runtimes_sender_never_claims_wecom_messages(tmp_path: Path) -> None:
    """The account sender `python -m bot run` drains WeChat with claims only channel "wechat": a dispatch for a robot
    is left queued, untouched, for the WeCom sender."""
    from bot.app import build_application
    from bot.config import Settings
    from bot.runtime import WechatRuntime

    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=tmp_path / "kb", _env_file=None)  # type: ignore[call-arg]
    application = build_application(settings)
    now = application.clock.now()
    application.outbox.enqueue(OutboundMessage("wechat", "群里的答复", group_id="room@chatroom"), now=now, source="a")
    application.outbox.enqueue(OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY), now=now, source="b")
    runtime = WechatRuntime(application, endpoint="127.0.0.1:1", token="unused", login_timeout_s=1)
    assert asyncio.run(runtime.sender.send_due()) == 0  # not logged in: the WeChat reply waits for a retry
    [wechat] = application.outbox.deliveries("a")
    assert wechat.attempts == 1 and wechat.last_error.startswith("微信未连接")
    [wecom] = application.outbox.deliveries("b")
    assert (wecom.status, wecom.attempts, wecom.last_error) == (OutboxStatus.QUEUED, 0, "")


def test_serving_starts_the_wecom_sender_only_when_staff_turned_it_on(tmp_path: Path, robots: FakeRobots) -> None:
    """`_serving` (what every serving mode runs beside its channel): off by default, the dispatch waits; on, it goes
    to the robot, and the sender stops with the rest."""
    from bot.app import build_application
    from bot.cli.serve import _serving
    from bot.config import Settings

    base = {"data_dir": tmp_path / "data", "knowledge_dir": tmp_path / "kb", "console_enabled": False}
    application = build_application(Settings(**base, _env_file=None))  # type: ignore[arg-type]
    application.outbox.enqueue(
        OutboundMessage(WECOM, DISPATCH, group_id=ROBOT_KEY), now=application.clock.now(), source="petition:1"
    )
    with _serving(application, console=False):
        assert not any(thread.name == "wecom-sender" for thread in threading.enumerate())
    assert application.outbox.deliveries("petition:1")[0].status is OutboxStatus.QUEUED

    settings = Settings(**base, wecom_enabled=True, wecom_webhook_url=robots.url, _env_file=None)  # type: ignore[arg-type]
    application = build_application(settings)
    with _serving(application, console=False):
        assert [request.content for request in robots.wait_for(1, timeout_s=30)] == [DISPATCH]
    assert not any(thread.name == "wecom-sender" for thread in threading.enumerate())
    [delivery] = application.outbox.deliveries("petition:1")
    assert delivery.status is OutboxStatus.SENT
