"""The outbox sender: spaced with jitter, retried with backoff, failures recorded, nothing sent twice."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

import pytest

from bot.domain.messages import OutboundMessage
from bot.domain.outbox import Membership, OutboxStatus, PermanentSendError, SendPriority, TransientSendError
from bot.services.sending import OutboxSender, SendingPolicy
from bot.storage.channel import SqlGroupAccounts, SqlOutbox
from bot.storage.engine import make_engine, session_factory, upgrade
from tests.support.clock import FakeClock


class RecordingGateway:
    """Stands in for WeChat: records what was sent, fails the first `failures` sends."""

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[OutboundMessage] = []
        self.failures = failures

    async def send(self, message: OutboundMessage) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("gateway down")
        self.sent.append(message)


class VirtualTime:
    """A monotonic clock that only moves when the sender sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _outbox(tmp_path: Path) -> SqlOutbox:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    return SqlOutbox(session_factory(engine))


def test_a_burst_is_spread_not_dropped(tmp_path: Path) -> None:
    outbox, clock, virtual = _outbox(tmp_path), FakeClock(), VirtualTime()
    for n in range(5):
        outbox.enqueue(OutboundMessage("wechat", f"答复{n}", group_id="room"), now=clock.now(), source=f"notice:{n}")
    gateway = RecordingGateway()
    policy = SendingPolicy(interval_s=1.5, jitter_s=1.0)
    sender = OutboxSender(
        outbox, gateway, clock, policy, sleep=virtual.sleep, monotonic=virtual.monotonic, rng=random.Random(7)
    )
    assert asyncio.run(sender.send_due()) == 5
    assert [m.text for m in gateway.sent] == [f"答复{n}" for n in range(5)]
    assert len(virtual.sleeps) == 4 and all(1.5 <= s <= 2.5 for s in virtual.sleeps)
    assert len(set(virtual.sleeps)) > 1  # jittered
    assert asyncio.run(sender.send_due()) == 0 and len(gateway.sent) == 5


class ReplyArrives(RecordingGateway):
    """Records sends; while the first goes out, a resident's reply is queued (a broadcast is under way)."""

    def __init__(self, outbox: SqlOutbox, clock: FakeClock) -> None:
        super().__init__()
        self._outbox, self._clock = outbox, clock

    async def send(self, message: OutboundMessage) -> None:
        await super().send(message)
        if len(self.sent) == 1:
            reply = OutboundMessage("wechat", "居民的答复", group_id="room-9")
            self._outbox.enqueue(reply, now=self._clock.now(), source="reply:m1")


def test_a_reply_queued_during_a_broadcast_goes_out_next_not_after_the_claimed_batch(tmp_path: Path) -> None:
    outbox, clock, virtual = _outbox(tmp_path), FakeClock(), VirtualTime()
    for n in range(6):
        notice = OutboundMessage("wechat", f"例行通知{n}", group_id=f"room-{n}")
        outbox.enqueue(notice, now=clock.now(), source="notice:1", priority=SendPriority.BULK)
    gateway = ReplyArrives(outbox, clock)
    policy = SendingPolicy(interval_s=1.0, jitter_s=0.0, lease_s=30.0)
    sender = OutboxSender(outbox, gateway, clock, policy, sleep=virtual.sleep, monotonic=virtual.monotonic)
    assert asyncio.run(sender.send_due()) == 1  # the rest of its claimed batch was given back
    assert outbox.counts() == {"queued": 6, "sent": 1}
    while asyncio.run(sender.send_due()):
        pass
    assert [m.text for m in gateway.sent] == ["例行通知0", "居民的答复", *(f"例行通知{n}" for n in range(1, 6))]


def test_failures_are_retried_with_backoff_then_recorded(tmp_path: Path) -> None:
    outbox, clock, virtual = _outbox(tmp_path), FakeClock(), VirtualTime()
    outbox.enqueue(OutboundMessage("wechat", "会成功", group_id="room"), now=clock.now(), source="notice:1")
    gateway = RecordingGateway(failures=2)
    policy = SendingPolicy(interval_s=0.0, jitter_s=0.0, max_attempts=3, backoff_s=10)
    sender = OutboxSender(outbox, gateway, clock, policy, sleep=virtual.sleep, monotonic=virtual.monotonic)
    assert asyncio.run(sender.send_due()) == 0
    clock.advance(seconds=9)
    assert asyncio.run(sender.send_due()) == 0  # backoff 10 s not over
    clock.advance(seconds=1)
    assert asyncio.run(sender.send_due()) == 0  # second failure, next backoff 20 s
    clock.advance(seconds=20)
    assert asyncio.run(sender.send_due()) == 1 and gateway.sent[0].text == "会成功"

    outbox.enqueue(OutboundMessage("wechat", "一直失败", group_id="room"), now=clock.now(), source="notice:2")
    gateway.failures = 100
    for _ in range(3):
        asyncio.run(sender.send_due())
        clock.advance(hours=1)
    assert outbox.counts() == {"sent": 1, "failed": 1}


class ProcessKilled(BaseException):
    """Stands in for SIGKILL: nothing after the point it is raised runs (no except Exception catches it)."""


class DyingGateway(RecordingGateway):
    """The message reaches WeChat, then the process dies before the send returns."""

    async def send(self, message: OutboundMessage) -> None:
        await super().send(message)
        raise ProcessKilled


def test_a_reply_cut_off_between_the_send_and_marking_it_sent_is_not_sent_again(tmp_path: Path) -> None:
    outbox, clock, virtual = _outbox(tmp_path), FakeClock(), VirtualTime()
    outbox.enqueue(OutboundMessage("wechat", "答复", group_id="room"), now=clock.now(), source="reply:m-1")
    gateway = DyingGateway()
    policy = SendingPolicy(interval_s=0.0, jitter_s=0.0)
    dying = OutboxSender(outbox, gateway, clock, policy, sleep=virtual.sleep, monotonic=virtual.monotonic)
    with pytest.raises(ProcessKilled):
        asyncio.run(dying.send_due())
    # The restart: the entry that was being sent may have gone out, so once its lease has run out it is kept for
    # staff, not sent again.
    clock.advance(seconds=policy.lease_s)
    assert len(outbox.recover_expired(now=clock.now()).unconfirmed) == 1
    restarted = OutboxSender(
        outbox, RecordingGateway(), clock, policy, sleep=virtual.sleep, monotonic=virtual.monotonic
    )
    assert asyncio.run(restarted.send_due()) == 0
    assert [m.text for m in gateway.sent] == ["答复"]
    assert outbox.counts() == {"unconfirmed": 1}


class FailingGateway:
    """Raises the given error on every send."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    async def send(self, message: OutboundMessage) -> None:
        self.calls += 1
        raise self.error


def _sender(outbox: SqlOutbox, gateway: object, clock: FakeClock, **policy: float) -> OutboxSender:
    virtual = VirtualTime()
    settings = {"interval_s": 0.0, "jitter_s": 0.0, "max_attempts": 3, "backoff_s": 10.0, **policy}
    return OutboxSender(
        outbox,
        gateway,  # type: ignore[arg-type]
        clock,
        SendingPolicy(**settings),  # type: ignore[arg-type]
        sleep=virtual.sleep,
        monotonic=virtual.monotonic,
    )


def test_a_permanent_error_fails_the_message_at_once(tmp_path: Path) -> None:
    outbox, clock = _outbox(tmp_path), FakeClock()
    outbox.enqueue(OutboundMessage("wechat", "通知", group_id="gone"), now=clock.now(), source="notice:1")
    gateway = FailingGateway(PermanentSendError("群已解散"))
    sender = _sender(outbox, gateway, clock)
    for _ in range(3):
        assert asyncio.run(sender.send_due()) == 0
        clock.advance(hours=1)
    assert gateway.calls == 1
    (failed,) = outbox.deliveries("notice:1")
    assert (failed.status, failed.attempts, failed.last_error) == (OutboxStatus.FAILED, 1, "群已解散，不再重试")


def test_a_transient_error_is_retried_with_exponential_backoff_then_given_up(tmp_path: Path) -> None:
    outbox, clock = _outbox(tmp_path), FakeClock()
    outbox.enqueue(OutboundMessage("wechat", "通知", group_id="room"), now=clock.now(), source="notice:1")
    gateway = FailingGateway(TransientSendError("发送超时"))
    sender = _sender(outbox, gateway, clock)
    calls = []
    for seconds in (0, 9, 1, 19, 1, 1000):  # tried at 0 s, again 10 s later, again 20 s after that, then never
        clock.advance(seconds=seconds)
        asyncio.run(sender.send_due())
        calls.append(gateway.calls)
    assert calls == [1, 1, 2, 2, 3, 3]
    (failed,) = outbox.deliveries("notice:1")
    assert (failed.status, failed.attempts, failed.last_error) == (
        OutboxStatus.FAILED,
        3,
        "发送超时，已试 3 次，不再重试",
    )


def test_an_unknown_error_counts_as_transient_and_its_text_stays_out_of_logs_and_notes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox, clock = _outbox(tmp_path), FakeClock()
    text = "李阿姨您好，您的电话13912345678已登记"
    outbox.enqueue(OutboundMessage("wechat", text, group_id="room"), now=clock.now(), source="reply:m-1")
    sender = _sender(outbox, FailingGateway(RuntimeError(f"could not send {text!r}")), clock)
    with caplog.at_level(logging.INFO):
        asyncio.run(sender.send_due())
    (queued,) = outbox.deliveries("reply:m-1")
    assert (queued.status, queued.attempts) == (OutboxStatus.QUEUED, 1)
    assert queued.last_error == "发送出错（RuntimeError），稍后重试"
    assert "RuntimeError" in caplog.text and "reply:m-1" in caplog.text
    assert "13912345678" not in caplog.text and "李阿姨" not in caplog.text


def test_a_spaced_sender_claims_only_what_it_can_start_within_its_lease(tmp_path: Path) -> None:
    outbox, clock = _outbox(tmp_path), FakeClock()
    for n in range(5):
        outbox.enqueue(OutboundMessage("wechat", f"通知{n}", group_id="room"), now=clock.now(), source=f"notice:{n}")
    seen: list[dict[str, int]] = []

    class Watching(RecordingGateway):
        async def send(self, message: OutboundMessage) -> None:
            seen.append(outbox.counts())
            await super().send(message)

    # 2.5 s between messages at most, a 5-second lease: two at a time; the rest stay queued for any sender
    sender = _sender(outbox, Watching(), clock, interval_s=1.5, jitter_s=1.0, lease_s=5.0)
    assert asyncio.run(sender.send_due()) == 2
    assert seen[0] == {"sending": 1, "claimed": 1, "queued": 3}
    assert outbox.counts() == {"sent": 2, "queued": 3}


def test_a_sender_serving_one_account_sends_only_what_it_can_deliver_and_is_recorded_as_its_sender(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    sessions = session_factory(engine)
    outbox, groups, clock, virtual = SqlOutbox(sessions), SqlGroupAccounts(sessions), FakeClock(), VirtualTime()
    groups.record(Membership("wxid_bot1", ("room-1",), complete=True), now=clock.now())
    groups.record(Membership("wxid_bot2", ("room-2",), complete=True), now=clock.now())
    for n, group in enumerate(("room-1", "room-2", "room-1")):
        outbox.enqueue(OutboundMessage("wechat", f"通知{n}", group_id=group), now=clock.now(), source=f"notice:{n}")
    gateway = RecordingGateway()
    sender = OutboxSender(
        outbox, gateway, clock, SendingPolicy(0, 0), channel="wechat", sleep=virtual.sleep, monotonic=virtual.monotonic
    )
    sender.serve_as("wxid_bot1")  # logged in
    assert sender.owner.startswith("wxid_bot1|")
    assert asyncio.run(sender.send_due()) == 2
    assert [m.text for m in gateway.sent] == ["通知0", "通知2"]
    assert [(d.status, d.account) for d in outbox.deliveries("notice:0")] == [(OutboxStatus.SENT, "wxid_bot1")]
    assert outbox.counts() == {"sent": 2, "queued": 1}  # room-2's waits for wxid_bot2
