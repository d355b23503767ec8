"""Draining the outbox gently: one account's messages spaced with jitter, retried with backoff, failures kept."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.ports import ChatGateway, Clock
from bot.storage.channel import SqlOutbox

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendingPolicy:
    """Personal WeChat accounts are banned for bursts: a minimum gap, random jitter, bounded retries."""

    interval_s: float = 1.5
    jitter_s: float = 1.0
    max_attempts: int = 5
    backoff_s: float = 5.0
    batch: int = 20


class OutboxSender:
    """Sends due outbox entries through the gateway, never faster than the policy allows."""

    def __init__(
        self,
        outbox: SqlOutbox,
        gateway: ChatGateway,
        clock: Clock,
        policy: SendingPolicy,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox = outbox
        self._gateway = gateway
        self._clock = clock
        self._policy = policy
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._next_send_at = 0.0

    async def send_due(self) -> int:
        """Send what is due now (spaced out); the number of messages that left."""
        sent = 0
        for entry in self._outbox.due(now=self._clock.now(), limit=self._policy.batch):
            wait = self._next_send_at - self._monotonic()
            if wait > 0:
                await self._sleep(wait)
            self._next_send_at = (
                self._monotonic() + self._policy.interval_s + self._rng.uniform(0, self._policy.jitter_s)
            )
            # Claimed before the platform call: if the process dies before mark_sent, the restart does not send it
            # again (see SqlOutbox.settle_interrupted_sends).
            if not self._outbox.claim(entry.id):
                continue
            try:
                await self._gateway.send(entry.message)
            except Exception as exc:  # any platform error: retry later, or record the final failure
                attempts = entry.attempts + 1
                give_up = attempts >= self._policy.max_attempts
                retry_at = (
                    None
                    if give_up
                    else self._clock.now() + timedelta(seconds=self._policy.backoff_s * 2 ** (attempts - 1))
                )
                self._outbox.mark_failed_attempt(entry.id, f"{type(exc).__name__}: {exc}", retry_at=retry_at)
                log.warning(
                    "send of outbox entry %s failed (attempt %s%s)",
                    entry.id,
                    attempts,
                    ", giving up" if give_up else "",
                )
                continue
            self._outbox.mark_sent(entry.id, now=self._clock.now())
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
