"""The SMS channel: messages POSTed in the documented JSON with the bearer token to a loopback relay on a real
socket, answers mapped to sent / failed for good / retried (429's Retry-After respected), numbers and texts checked
before any request, numbers never logged in full."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.channels.sms import SmsGateway
from bot.channels.webhook import retry_after_s
from bot.domain.messages import OutboundMessage
from bot.domain.outbox import OutboxStatus, PermanentSendError, TransientSendError
from bot.domain.sms import SMS, check_mobile, mask_mobile
from bot.services.sending import OutboxSender, SendingPolicy
from bot.storage.channel import SqlOutbox
from bot.storage.engine import make_engine, session_factory, upgrade
from tests.support.clock import FakeClock
from tests.support.loopback import refusing_address
from tests.support.sms_relay import RELAY_PATH, RELAY_TOKEN, FakeRelay, RelayAnswer, fake_sms_relay

NUMBER = "13912345678"
REMINDER = "王阿姨您好，您的高龄津贴资格认证将于12月10日到期，请带身份证到社区服务中心办理。"


def _gateway(url: str, *, token: str = RELAY_TOKEN, timeout_s: float = 5.0, max_chars: int = 500) -> SmsGateway:
    return SmsGateway(webhook_url=url, token=token, sign="【幸福社区】", timeout_s=timeout_s, max_chars=max_chars)


def _send(gateway: SmsGateway, message: OutboundMessage) -> None:
    asyncio.run(gateway.send(message))


@pytest.fixture
def relay() -> Iterator[FakeRelay]:
    with fake_sms_relay() as relay:
        yield relay


def test_a_message_is_posted_in_the_documented_json_with_the_bearer_token(relay: FakeRelay) -> None:
    gateway = _gateway(relay.url)
    asyncio.run(gateway.send_delivery(OutboundMessage(SMS, REMINDER, user_id=NUMBER), delivery_id="outbox-7"))
    [request] = relay.requests
    assert request.authorization == f"Bearer {RELAY_TOKEN}" and request.content_type.startswith("application/json")
    assert request.body == {"id": "outbox-7", "to": NUMBER, "text": REMINDER, "sign": "【幸福社区】"}
    assert request.status == 200 and relay.sent == [request.body]


@pytest.mark.parametrize("typed", ["139 1234 5678", "+86 139-1234-5678", "008613912345678", " 13912345678 "])
def test_a_number_typed_with_separators_or_country_code_goes_as_eleven_digits(relay: FakeRelay, typed: str) -> None:
    _send(_gateway(relay.url), OutboundMessage(SMS, REMINDER, user_id=typed))
    assert [request.body["to"] for request in relay.requests] == [NUMBER]


@pytest.mark.parametrize("number", ["", "1391234567", "139123456789", "12912345678", "010-12345678", "abc", "2" * 11])
def test_a_bad_number_fails_for_good_before_any_request(relay: FakeRelay, number: str) -> None:
    with pytest.raises(PermanentSendError, match="手机号不对") as raised:
        _send(_gateway(relay.url), OutboundMessage(SMS, REMINDER, user_id=number))
    assert relay.requests == [] and not re.search(r"[A-Za-z]{3,}", raised.value.reason)


def test_an_empty_or_too_long_text_fails_for_good_before_any_request(relay: FakeRelay) -> None:
    with pytest.raises(PermanentSendError, match="短信太长（501 字，最多 500 字）"):
        _send(_gateway(relay.url), OutboundMessage(SMS, "通" * 501, user_id=NUMBER))
    with pytest.raises(PermanentSendError, match="空"):
        _send(_gateway(relay.url), OutboundMessage(SMS, " \n ", user_id=NUMBER))
    assert relay.requests == []
    _send(_gateway(relay.url), OutboundMessage(SMS, "通" * 500, user_id=NUMBER))  # at the limit: whole, one request
    assert [len(request.body["text"]) for request in relay.requests] == [500]


@pytest.mark.parametrize(
    ("token", "answer", "words"),
    [
        ("wrong-token", None, "不认这个令牌（HTTP 401）"),
        (RELAY_TOKEN, RelayAnswer(404), "地址不对（HTTP 404）"),
        (RELAY_TOKEN, RelayAnswer(400, error="number 13912345678 is on the blocklist"), "拒收了这条短信（HTTP 400）"),
    ],
)
def test_a_refusal_fails_for_good_with_the_relays_reason(
    relay: FakeRelay, token: str, answer: RelayAnswer | None, words: str
) -> None:
    if answer is not None:
        relay.answer_next(answer)
    with pytest.raises(PermanentSendError) as raised:
        _send(_gateway(relay.url, token=token), OutboundMessage(SMS, REMINDER, user_id=NUMBER))
    assert words in raised.value.reason and NUMBER not in raised.value.reason
    assert len(relay.requests) == 1 and relay.sent == []


def test_busy_or_broken_may_work_later_and_retry_after_is_kept(relay: FakeRelay) -> None:
    relay.answer_next(RelayAnswer(429, retry_after="120"), RelayAnswer(503), RelayAnswer(429))
    with pytest.raises(TransientSendError, match=r"太忙.*HTTP 429.*120 秒后重试") as busy:
        _send(_gateway(relay.url), OutboundMessage(SMS, REMINDER, user_id=NUMBER))
    assert busy.value.retry_after_s == 120
    with pytest.raises(TransientSendError, match="暂时出错（HTTP 503），稍后重试") as broken:
        _send(_gateway(relay.url), OutboundMessage(SMS, REMINDER, user_id=NUMBER))
    assert broken.value.retry_after_s is None
    with pytest.raises(TransientSendError) as unsaid:
        _send(_gateway(relay.url), OutboundMessage(SMS, REMINDER, user_id=NUMBER))
    assert unsaid.value.retry_after_s is None and relay.sent == []


def test_retry_after_as_seconds_or_a_date_within_an_hour() -> None:
    now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert retry_after_s("30") == 30
    assert retry_after_s("Sat, 28 Nov 2026 10:02:00 GMT", now=now) == 120
    assert retry_after_s("Sat, 28 Nov 2026 09:00:00 GMT", now=now) == 0
    assert retry_after_s("86400") == 3600
    assert retry_after_s("") is None and retry_after_s("soon") is None and retry_after_s("-5") is None


def test_no_answer_in_time_may_work_later(relay: FakeRelay) -> None:
    release = threading.Event()
    relay.answer_next(RelayAnswer(release=release))
    try:
        with pytest.raises(TransientSendError, match="超时"):
            _send(_gateway(relay.url, timeout_s=0.3), OutboundMessage(SMS, REMINDER, user_id=NUMBER))
    finally:
        release.set()


def test_a_relay_killed_mid_request_may_work_later(relay: FakeRelay) -> None:
    relay.answer_next(RelayAnswer(dropped=True))
    with pytest.raises(TransientSendError, match="连不上短信网关（网络问题）"):
        _send(_gateway(relay.url), OutboundMessage(SMS, REMINDER, user_id=NUMBER))
    _send(_gateway(relay.url), OutboundMessage(SMS, REMINDER, user_id=NUMBER))  # the relay is back
    assert [request.status for request in relay.requests] == [-1, 200] and len(relay.sent) == 1


def test_a_relay_that_is_gone_may_work_later() -> None:
    with refusing_address(RELAY_PATH) as url, pytest.raises(TransientSendError, match="连不上短信网关"):
        _send(_gateway(url), OutboundMessage(SMS, REMINDER, user_id=NUMBER))


def test_the_number_is_never_logged_in_full(relay: FakeRelay, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _send(_gateway(relay.url), OutboundMessage(SMS, REMINDER, user_id=NUMBER))
    relay.answer_next(RelayAnswer(503), RelayAnswer(400, error=f"bad number {NUMBER}"))
    for _ in range(2):
        with pytest.raises((TransientSendError, PermanentSendError)):
            _send(_gateway(relay.url), OutboundMessage(SMS, REMINDER, user_id=NUMBER))
    with pytest.raises(PermanentSendError) as bad:
        _send(_gateway(relay.url), OutboundMessage(SMS, REMINDER, user_id="1391234567"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "HTTP Request: POST" in logged and "SMS to 139****5678: HTTP 503" in logged
    assert NUMBER not in logged and REMINDER not in logged and RELAY_TOKEN not in logged
    assert "1391234567" not in bad.value.reason and mask_mobile("1391234567") in bad.value.reason
    assert check_mobile("+86 139 1234 5678") == NUMBER and mask_mobile(NUMBER) == "139****5678"


# Through the outbox: what the sender records, one id per entry on every retry (SQLite and PostgreSQL)


def _outbox(database_url: str) -> SqlOutbox:
    engine = make_engine(database_url)
    upgrade(engine)
    return SqlOutbox(session_factory(engine))


def _sender(outbox: SqlOutbox, clock: FakeClock, url: str) -> OutboxSender:
    policy = SendingPolicy(interval_s=0.0, jitter_s=0.0, max_attempts=5, backoff_s=5.0)
    return OutboxSender(outbox, _gateway(url), clock, policy, channel=SMS)


def test_a_late_answer_is_retried_under_the_same_id_and_the_relay_sends_once(
    database_url: str, relay: FakeRelay
) -> None:
    outbox, clock = _outbox(database_url), FakeClock()
    outbox.enqueue(OutboundMessage(SMS, REMINDER, user_id=NUMBER), now=clock.now(), source="reminder:1")
    outbox.enqueue(OutboundMessage(SMS, REMINDER, user_id="13800001111"), now=clock.now(), source="reminder:2")
    outbox.enqueue(OutboundMessage(SMS, REMINDER, user_id="1380000"), now=clock.now(), source="reminder:3")
    release = threading.Event()
    relay.answer_next(RelayAnswer(release=release))  # the relay takes the first one but answers too late
    gateway = SmsGateway(webhook_url=relay.url, token=RELAY_TOKEN, sign="", timeout_s=0.3, max_chars=500)
    sender = OutboxSender(outbox, gateway, clock, SendingPolicy(0, 0, backoff_s=5.0), channel=SMS)
    try:
        assert asyncio.run(sender.send_due()) == 1
    finally:
        release.set()
    relay.sent.append(relay.wait_for(1, timeout_s=30)[0].body)  # what the held request delivered to the phone
    [late] = outbox.deliveries("reminder:1")
    assert late.status is OutboxStatus.QUEUED and "超时" in late.last_error
    [bad] = outbox.deliveries("reminder:3")
    assert (
        bad.status is OutboxStatus.FAILED
        and bad.last_error.startswith("手机号不对")
        and bad.last_error.endswith("不再重试")
    )
    clock.advance(seconds=5)
    assert asyncio.run(_sender(outbox, clock, relay.url).send_due()) == 1
    ids = [request.body["id"] for request in relay.requests if request.body.get("to") == NUMBER]
    assert len(ids) == 2 and ids[0] == ids[1] == f"outbox-{late.id}"
    assert [sent["to"] for sent in relay.sent].count(NUMBER) == 1  # the relay dropped the repeat
    assert outbox.deliveries("reminder:1")[0].status is OutboxStatus.SENT
    assert len(relay.requests) == 3  # the bad number never left


def test_a_429_waits_as_long_as_the_relay_asked(database_url: str, relay: FakeRelay) -> None:
    outbox, clock = _outbox(database_url), FakeClock()
    outbox.enqueue(OutboundMessage(SMS, REMINDER, user_id=NUMBER), now=clock.now(), source="reminder:1")
    relay.answer_next(RelayAnswer(429, retry_after="60"))
    assert asyncio.run(_sender(outbox, clock, relay.url).send_due()) == 0
    [waiting] = outbox.deliveries("reminder:1")
    assert waiting.status is OutboxStatus.QUEUED and "60 秒后重试" in waiting.last_error
    clock.advance(seconds=59)  # the backoff alone (5 s) would have retried long ago
    assert asyncio.run(_sender(outbox, clock, relay.url).send_due()) == 0
    clock.advance(seconds=1)
    assert asyncio.run(_sender(outbox, clock, relay.url).send_due()) == 1
    assert outbox.deliveries("reminder:1")[0].status is OutboxStatus.SENT and len(relay.sent) == 1


def test_serving_starts_the_sms_sender_only_when_staff_turned_it_on(tmp_path: Path, relay: FakeRelay) -> None:
    from bot.app import build_application
    from bot.cli.serve import _serving
    from bot.config import Settings

    base = {"data_dir": tmp_path / "data", "knowledge_dir": tmp_path / "kb", "console_enabled": False}
    application = build_application(Settings(**base, _env_file=None))  # type: ignore[arg-type]
    message = OutboundMessage(SMS, REMINDER, user_id=NUMBER)
    application.outbox.enqueue(message, now=application.clock.now(), source="reminder:1")
    with _serving(application, console=False):
        assert not any(thread.name == "sms-sender" for thread in threading.enumerate())
    assert application.outbox.deliveries("reminder:1")[0].status is OutboxStatus.QUEUED

    settings = Settings(
        **base,  # type: ignore[arg-type]
        sms_enabled=True,
        sms_webhook_url=relay.url,
        sms_token=RELAY_TOKEN,  # type: ignore[arg-type]
        sms_sign="【幸福社区】",
        _env_file=None,  # type: ignore[call-arg]
    )
    application = build_application(settings)
    with _serving(application, console=False):
        [request] = relay.wait_for(1, timeout_s=30)
    assert not any(thread.name == "sms-sender" for thread in threading.enumerate())
    [delivery] = application.outbox.deliveries("reminder:1")
    assert delivery.status is OutboxStatus.SENT
    assert request.body == {"id": f"outbox-{delivery.id}", "to": NUMBER, "text": REMINDER, "sign": "【幸福社区】"}


def test_sms_enabled_without_an_address_is_a_configuration_error(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from bot.config import Settings

    with pytest.raises(ValidationError, match="BOT_SMS_WEBHOOK_URL"):
        Settings(data_dir=tmp_path, sms_enabled=True, _env_file=None)  # type: ignore[call-arg]


def _sms_test(tmp_path: Path, relay: FakeRelay, number: str, **extra: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "BOT_DATA_DIR": str(tmp_path / "data"),
        "BOT_SMS_WEBHOOK_URL": relay.url,
        "BOT_SMS_TOKEN": RELAY_TOKEN,
        "BOT_SMS_TIMEOUT_S": "5",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "sms-test", number],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )


def test_sms_test_sends_one_message_and_says_what_the_relay_answered(tmp_path: Path, relay: FakeRelay) -> None:
    done = _sms_test(tmp_path, relay, NUMBER)
    assert done.returncode == 0, done.stderr
    assert "短信网关已收下测试短信（139****5678）" in done.stdout and "BOT_SMS_ENABLED 还没有打开" in done.stdout
    assert [sent["to"] for sent in relay.sent] == [NUMBER] and "测试" in relay.sent[0]["text"]

    refused = _sms_test(tmp_path, relay, NUMBER, BOT_SMS_TOKEN="wrong")
    assert refused.returncode == 1 and "测试短信没有发出去" in refused.stdout and "BOT_SMS_TOKEN" in refused.stdout

    malformed = _sms_test(tmp_path, relay, "12345")
    assert malformed.returncode == 1 and "手机号不对" in malformed.stdout
    assert len(relay.requests) == 2
    for run in (done, refused, malformed):
        assert NUMBER not in run.stdout + run.stderr and "Traceback" not in run.stderr


def test_an_sms_whose_sender_was_killed_mid_send_is_left_unconfirmed_with_the_number_masked(
    database_url: str, relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    """A sender killed after handing the SMS to the relay: it may have gone out (and costs money), so it is not
    sent again by itself, and the warning names the number masked."""
    outbox, clock = _outbox(database_url), FakeClock()
    outbox.enqueue(OutboundMessage(SMS, REMINDER, user_id=NUMBER), now=clock.now(), source="reminder:1")
    lease = timedelta(seconds=30)
    [entry] = outbox.claim_due(now=clock.now(), limit=5, owner="killed", lease=lease, channel=SMS)
    assert outbox.start_send(entry.id, "killed", now=clock.now(), lease=lease)
    clock.advance(seconds=31)
    caplog.set_level(logging.WARNING)
    assert asyncio.run(_sender(outbox, clock, relay.url).send_due()) == 0
    assert outbox.deliveries("reminder:1")[0].status is OutboxStatus.UNCONFIRMED
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "sms:user:139****5678" in logged and NUMBER not in logged
    assert relay.requests == []
