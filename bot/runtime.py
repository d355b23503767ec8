"""Running the assistant on a chat account: inbound messages recorded in the inbox and handled by the router,
the outbox drained gently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

from bot.app import Application
from bot.channels.wechaty import WECHAT, WechatyChannel, WechatyChannelError
from bot.domain.groups import MemberJoin
from bot.domain.messages import InboundMessage, MessageKind
from bot.domain.outbox import Membership
from bot.domain.privacy import mask_personal_data, masked_traceback
from bot.handlers.router import Handling

log = logging.getLogger(__name__)
LEDGER_RETENTION = timedelta(days=7)
# A message is picked up for handling at most this often (a crash mid-handling counts): then it is failed for good.
MAX_HANDLING_ATTEMPTS = 3
GAVE_UP = f"处理了 {MAX_HANDLING_ATTEMPTS} 次都没有完成（进程在处理时中断），不再重试"
# Logged once the account is logged in and messages are being handled and replies sent (a readiness signal).
SERVING = "WeChat logged in: serving"
# A group the account hears messages in is recorded as one of its groups at most this often (its login lists them all)
SEEN_IN_GROUP_EVERY = timedelta(minutes=10)


class WechatRuntime:
    """One WeChat account end to end; reconnects with backoff when the event stream drops."""

    def __init__(self, application: Application, *, endpoint: str, token: str, login_timeout_s: float) -> None:
        self.application = application
        self.channel = WechatyChannel(
            endpoint=endpoint,
            token=token,
            on_message=self._on_message,
            on_join=self._on_join,
            on_membership=self._on_membership,
            login_timeout_s=login_timeout_s,
            image_limit=application.photos.max_bytes,
        )
        self.sender = application.sender(self.channel, channel=WECHAT)
        self._group_seen_at: dict[str, datetime] = {}  # when each group was last recorded as this account's
        self._wake = asyncio.Event()
        # One handler thread: answering is CPU-bound (more threads only contend for the GIL and the BLAS threads)
        # and SQLite takes one writer at a time (concurrent handlers queued behind its lock, stalling replies).
        self._handler_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="router")
        # Recording in the inbox never waits behind the handler thread (that is where messages pile up).
        self._inbox_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox")
        self._backlog: list[asyncio.Task[None]] = []

    async def _on_message(self, message: InboundMessage) -> None:
        """The channel's event callback: record the message in the inbox, then queue it for the handler thread."""
        if message.from_self:  # the bot's own replies coming back are no work: not recorded, not queued
            return
        loop = asyncio.get_running_loop()
        try:
            recorded = await loop.run_in_executor(self._inbox_thread, self._receive, message)
        except Exception as exc:  # the database refused it: say so (masked); the rest of the stream goes on
            log.error(
                "could not record message %s, so it is not handled:\n%s", message.message_id, masked_traceback(exc)
            )
            return
        if recorded is None:
            log.info("message %s delivered again: already received", message.message_id)
            return
        await self._handle(recorded)

    def _receive(self, message: InboundMessage) -> InboundMessage | None:
        """Record a message in the inbox (on the inbox thread), and the group it came from as the account's own;
        return it as recorded, None if it was received before. A picture is checked first and kept beside it as the
        JPEG without EXIF (or why it was refused), its raw bytes dropped."""
        now = self.application.clock.now()
        group, account = message.group_id, message.account
        last = self._group_seen_at.get(group)
        if group and account and (last is None or now - last >= SEEN_IN_GROUP_EVERY):
            self._record(Membership(account, (group,)), now)
        if message.kind is MessageKind.IMAGE:
            message = replace(message, image=b"", photo=self.application.photos.received(message.image))
        return message if self.application.inbox.receive(message, now=now) else None

    async def _on_join(self, join: MemberJoin) -> None:
        """The channel's room-join callback: the welcome queued (on the inbox thread: it writes to the database),
        and the sender woken for it."""
        loop = asyncio.get_running_loop()
        try:
            queued = await loop.run_in_executor(self._inbox_thread, self.application.welcome.welcome, join)
        except Exception as exc:  # the database refused it: said (masked); the event stream goes on
            log.error("could not queue the welcome for %s:\n%s", join.group_id, masked_traceback(exc))
            return
        if queued:
            self._wake.set()

    async def _on_membership(self, membership: Membership) -> None:
        """The channel's word on the account's groups, recorded on the inbox thread (the one that writes them)."""
        now = self.application.clock.now()
        await asyncio.get_running_loop().run_in_executor(self._inbox_thread, self._record, membership, now)
        log.info(
            "WeChat account %s %s %d groups",
            membership.account,
            "is in" if membership.complete else "joined" if membership.member else "left",
            len(membership.group_ids),
        )

    def _record(self, membership: Membership, now: datetime) -> None:
        self.application.group_accounts.record(membership, now=now)
        if membership.complete:
            self._group_seen_at.clear()
        for group in membership.group_ids:
            if membership.member:
                self._group_seen_at[group] = now
            else:
                self._group_seen_at.pop(group, None)

    async def _handle(self, message: InboundMessage) -> None:
        loop = asyncio.get_running_loop()
        try:
            handling = await loop.run_in_executor(self._handler_thread, self._handle_recorded, message)
        except Exception as exc:  # the inbox itself failed: the message waits there for the next start
            log.error("message %s left waiting in the inbox:\n%s", message.message_id, masked_traceback(exc))
            return
        log.info("message %s in %s: %s", message.message_id, message.group_id or "private", handling.outcome)
        if handling.replies:
            self._wake.set()

    def _handle_recorded(self, message: InboundMessage) -> Handling:
        """Route one message from the inbox (on the handler thread). An error is logged and recorded with the
        message, which is tried again up to MAX_HANDLING_ATTEMPTS in all and then failed; it never escapes."""
        inbox, clock = self.application.inbox, self.application.clock
        while (attempt := inbox.begin(message.message_id)) is not None:
            if attempt > MAX_HANDLING_ATTEMPTS:
                inbox.record_failure(message.message_id, GAVE_UP, give_up=True, now=clock.now())
                log.error("message %s failed: picked up %d times without finishing", message.message_id, attempt - 1)
                return Handling("failed")
            try:
                handling = self.application.router.handle(message)
            except Exception as exc:  # one message's bug must not stop the others
                give_up = attempt == MAX_HANDLING_ATTEMPTS
                reason = mask_personal_data(f"{type(exc).__name__}: {exc}")
                inbox.record_failure(message.message_id, reason, give_up=give_up, now=clock.now())
                log.error(
                    "handling message %s failed (attempt %d of %d%s):\n%s",
                    message.message_id,
                    attempt,
                    MAX_HANDLING_ATTEMPTS,
                    ", giving up" if give_up else "",
                    masked_traceback(exc),
                )
                if give_up:
                    return Handling("failed")
                continue
            if not handling.recorded:  # an outcome that queued nothing: the router did not mark it handled
                inbox.finish(message.message_id, handling.outcome, now=clock.now())
            return handling
        return Handling("not_waiting")

    async def run(
        self, stop: asyncio.Event, *, poll_s: float = 0.5, health_s: float = 5.0, max_backoff_s: float = 60.0
    ) -> None:
        """Handle what the inbox still holds from before, connect (failing clearly if the first login fails), then
        serve until stop is set."""
        now = self.application.clock.now()
        # Platforms redeliver within minutes; a week of message ids is plenty to answer each once.
        self.application.outbox.forget_processed_before(now - LEDGER_RETENTION)
        self.application.inbox.forget_settled_before(now - LEDGER_RETENTION)
        # Replies a stopped process was sending are settled by the sender once their lease runs out (OutboxSender).
        backlog = self.application.inbox.waiting()
        if backlog:
            log.info("handling %d messages received before the restart", len(backlog))
        # Queued for the handler thread before connecting, so they go first, in the order they arrived.
        self._backlog = [asyncio.create_task(self._handle(message)) for message in backlog]
        try:
            await self.channel.start()
        except BaseException:
            self._stop_handling()
            raise
        self.sender.serve_as(self.channel.account)
        sender = asyncio.create_task(self._send_loop(stop, poll_s))
        log.info(SERVING)
        backoff = 1.0
        try:
            while not stop.is_set():
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
                else:
                    self.sender.serve_as(self.channel.account)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            await self.channel.stop()
            self._stop_handling()

    def _stop_handling(self) -> None:
        """Stop without working through the queue: what was not handled stays in the inbox for the next start."""
        self._handler_thread.shutdown(wait=False, cancel_futures=True)

    async def _send_loop(self, stop: asyncio.Event, poll_s: float) -> None:
        while not stop.is_set():
            self._wake.clear()
            if await self.sender.send_due():
                continue  # more may be due at once (a notice to many groups): claimed without a pause
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_s)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to seconds; True if stop was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
