"""Running the assistant on a chat account: inbound messages through the router, the outbox drained gently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from bot.app import AssistantServices, ChannelRuntime, build_channel_runtime
from bot.channels.wechaty import WechatyChannel, WechatyChannelError
from bot.domain.messages import InboundMessage

log = logging.getLogger(__name__)
LEDGER_RETENTION = timedelta(days=7)
# Logged once the account is logged in and messages are being handled and replies sent (a readiness signal).
SERVING = "WeChat logged in: serving"


class WechatRuntime:
    """One WeChat account end to end; reconnects with backoff when the event stream drops."""

    def __init__(self, services: AssistantServices, *, endpoint: str, token: str, login_timeout_s: float) -> None:
        self._services = services
        self.channel = WechatyChannel(
            endpoint=endpoint, token=token, on_message=self._on_message, login_timeout_s=login_timeout_s
        )
        self.runtime: ChannelRuntime = build_channel_runtime(services, self.channel)
        self._wake = asyncio.Event()
        # One handler thread: answering is CPU-bound (more threads only contend for the GIL and the BLAS threads)
        # and SQLite takes one writer at a time (concurrent handlers queued behind its lock, stalling replies).
        self._handler_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="router")

    async def _on_message(self, message: InboundMessage) -> None:
        loop = asyncio.get_running_loop()
        handling = await loop.run_in_executor(self._handler_thread, self.runtime.router.handle, message)
        log.info("message %s in %s: %s", message.message_id, message.group_id or "private", handling.outcome)
        if handling.replies:
            self._wake.set()

    async def run(
        self, stop: asyncio.Event, *, poll_s: float = 0.5, health_s: float = 5.0, max_backoff_s: float = 60.0
    ) -> None:
        """Connect (failing clearly if the first login fails), then serve until stop is set."""
        # Platforms redeliver within minutes; a week of message ids is plenty to answer each once.
        self.runtime.outbox.forget_processed_before(self._services.clock.now() - LEDGER_RETENTION)
        await self.channel.start()
        sender = asyncio.create_task(self._send_loop(stop, poll_s))
        log.info(SERVING)
        backoff = 1.0
        loop = asyncio.get_running_loop()
        remind_every = timedelta(minutes=self._services.settings.unanswered_remind_minutes)
        next_reminder = loop.time() + remind_every.total_seconds()
        try:
            while not stop.is_set():
                if loop.time() >= next_reminder:
                    next_reminder = loop.time() + remind_every.total_seconds()
                    await loop.run_in_executor(None, self._remind, remind_every)
                if await self.channel.alive():
                    backoff = 1.0
                    await _wait(stop, health_s)
                    continue
                log.warning("WeChat connection lost; reconnecting in %.0f s", backoff)
                await self.channel.stop()
                if await _wait(stop, backoff):
                    break
                try:
                    await self.channel.start()
                except WechatyChannelError as exc:
                    log.warning("reconnect failed: %s", exc)
                    backoff = min(backoff * 2, max_backoff_s)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            await self.channel.stop()

    def _remind(self, older_than: timedelta) -> None:
        """Re-notify staff of questions open longer than older_than (and wake the sender)."""
        if self.runtime.escalation.renotify_overdue(older_than=older_than):
            self._wake.set()

    async def _send_loop(self, stop: asyncio.Event, poll_s: float) -> None:
        while not stop.is_set():
            await self.runtime.sender.send_due()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_s)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to seconds; True if stop was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
