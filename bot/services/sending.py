"""Draining the outbox gently: one account's messages spaced with jitter, permanent failures final at once, transient
ones retried with backoff, a sender's claims held under a lease so several senders share one outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.outbox import PermanentSendError, QueuedMessage, TransientSendError, as_send_error, sender_owner
from bot.domain.privacy import mask_personal_data, masked_traceback
from bot.domain.wecom import mask_robot_keys
from bot.ports import ChatGateway, Clock, IdempotentGateway, Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendingPolicy:
    """Personal WeChat accounts are banned for bursts: a minimum gap, random jitter, bounded retries. lease_s is how
    long a sender holds what it claimed, and a message it is sending: a sender that dies is taken over after it."""

    interval_s: float = 1.5
    jitter_s: float = 1.0
    max_attempts: int = 5
    backoff_s: float = 5.0
    batch: int = 20
    lease_s: float = 30.0


def sender_name(account: str = "") -> str:
    """A name for this sender that no other process shares: the bot account it sends as (if any), host, process id
    and a random part."""
    return sender_owner(account, f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}")


class OutboxSender:
    """Sends due outbox entries through the gateway, never faster than the policy allows."""

    def __init__(
        self,
        outbox: Outbox,
        gateway: ChatGateway,
        clock: Clock,
        policy: SendingPolicy,
        *,
        owner: str | None = None,
        channel: str | None = None,
        account: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox = outbox
        self._gateway = gateway
        self._clock = clock
        self._policy = policy
        self.account = account
        self.owner = owner or sender_name(account or "")
        self._channel = channel
        self._lease = timedelta(seconds=policy.lease_s)
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._next_send_at = 0.0

    def serve_as(self, account: str) -> None:
        """From now on send as this bot account (logged in): only what it can deliver is claimed (the messages pinned
        to it, and those to its groups or to groups no account was seen in), and the rows record it as their sender."""
        if account != self.account:
            self.account, self.owner = account, sender_name(account)

    async def send_due(self) -> int:
        """Settle leases that ran out, then claim what is due and send it (spaced out); the number of messages that
        left."""
        self._recover()
        await self._wait_for_gap()  # claimed only when the first can go at once: a claim is held while it waits
        sent = 0
        claimed = self._outbox.claim_due(
            now=self._clock.now(),
            limit=self._claim_limit(),
            owner=self.owner,
            lease=self._lease,
            channel=self._channel,
            account=self.account,
        )
        for position, entry in enumerate(claimed):
            await self._wait_for_gap()
            # The next gap is counted from here: the bookkeeping below is inside it, so the rate is the configured one
            turn = self._monotonic()
            if position and self._outbox.more_urgent_due(
                entry.priority, now=self._clock.now(), channel=self._channel, account=self.account
            ):
                # Something more urgent came while this batch waited its turn: give the rest back, take that first
                self._outbox.release([rest.id for rest in claimed[position:]], self.owner)
                break
            # Marked sending right before the platform call: if the process dies before the outcome is recorded, the
            # entry becomes unconfirmed when its lease runs out and is not sent again.
            if not self._outbox.start_send(entry.id, self.owner, now=self._clock.now(), lease=self._lease):
                log.warning("outbox entry %s: the claim ran out and was taken back; left to whoever holds it", entry.id)
                continue
            self._next_send_at = turn + self._policy.interval_s + self._rng.uniform(0, self._policy.jitter_s)
            try:
                if isinstance(self._gateway, IdempotentGateway):
                    await self._gateway.send_delivery(entry.message, delivery_id=f"outbox-{entry.id}")
                else:
                    await self._gateway.send(entry.message)
            except Exception as exc:  # classified: permanent is final, anything else is retried
                self._record_failure(entry, exc)
                continue
            if not self._outbox.mark_sent(entry.id, self.owner, now=self._clock.now()):
                log.warning("outbox entry %s was sent, but staff queued it again meanwhile", entry.id)
            sent += 1
        return sent

    async def run(self, stop: asyncio.Event, poll_s: float = 0.5) -> None:
        """Keep draining until stop is set."""
        while not stop.is_set():
            await self.send_due()
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll_s)
            except TimeoutError:
                continue

    def _recover(self) -> None:
        """Give back claims whose sender stopped; keep its interrupted sends as unconfirmed, with a warning each."""
        expired = self._outbox.recover_expired(now=self._clock.now())
        if expired.requeued:
            log.info("%d outbox entries claimed by a sender that stopped are queued again", expired.requeued)
        for delivery in expired.unconfirmed:
            log.warning(
                "outbox entry %s (%s, to %s) was being sent when its sender stopped: it may have gone out, so it is "
                "kept as unconfirmed and not sent again",
                delivery.id,
                delivery.source,
                # a WeCom robot's key is its group id, an SMS's target a resident's mobile number
                mask_personal_data(mask_robot_keys(delivery.target)),
            )

    def _claim_limit(self) -> int:
        """How many entries can be started within the lease at the policy's spacing (one at least, a batch at most)."""
        gap = self._policy.interval_s + self._policy.jitter_s
        if gap <= 0:
            return self._policy.batch
        return max(1, min(self._policy.batch, int(self._policy.lease_s // gap)))

    async def _wait_for_gap(self) -> None:
        wait = self._next_send_at - self._monotonic()
        if wait > 0:
            await self._sleep(wait)

    def _record_failure(self, entry: QueuedMessage, exc: Exception) -> None:
        """Final at once for a permanent error or the last attempt; otherwise queued again after an exponential
        backoff. Logged by entry, source and reason only (never the message's text)."""
        error = as_send_error(exc)
        attempts = entry.attempts + 1
        if isinstance(error, PermanentSendError):
            retry_at, note = None, "，不再重试"
        elif attempts >= self._policy.max_attempts:
            retry_at, note = None, f"，已试 {attempts} 次，不再重试"
        else:
            backoff_s = self._policy.backoff_s * 2 ** (attempts - 1)
            if isinstance(error, TransientSendError) and error.retry_after_s is not None:
                backoff_s = max(backoff_s, error.retry_after_s)  # the platform said how long it wants
            retry_at = self._clock.now() + timedelta(seconds=backoff_s)
            note = "，稍后重试"
        self._outbox.mark_failed(entry.id, self.owner, error.reason + note, retry_at=retry_at)
        log.warning(
            "sending outbox entry %s (%s) failed, attempt %d%s: %s",
            entry.id,
            entry.source,
            attempts,
            "" if retry_at else ", giving up",
            type(exc).__name__ if error is not exc else error.reason,
        )


class SenderThread:
    """An OutboxSender draining on a thread and event loop of its own until stopped: beside a chat channel that
    has its own loop (WeChat) or none (the terminal, the console alone). A failed round (the database away) is logged
    and tried again after poll_s."""

    def __init__(self, sender: OutboxSender, *, name: str, poll_s: float = 1.0) -> None:
        self.sender = sender
        self._poll_s = poll_s
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> None:
        """Start draining; returns once the thread's loop runs."""
        self._thread.start()
        self._started.wait()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop after the message being sent (if any) and wait for the thread up to timeout_s."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing left to stop
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout_s)

    def _main(self) -> None:
        asyncio.run(self._drain())

    async def _drain(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._started.set()
        while not self._stop.is_set():
            try:
                await self.sender.send_due()
            except Exception as exc:  # the outbox failed this round: said (masked), tried again
                log.error("the %s sender failed a round:\n%s", self._thread.name, masked_traceback(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._poll_s)
