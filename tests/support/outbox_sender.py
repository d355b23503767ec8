"""A sender process for the outbox crash tests: drains the outbox at OUTBOX_DATABASE_URL through a gateway that appends
each message it sends to OUTBOX_SENT_FILE (one JSON line, fsync'd), until nothing is queued, claimed or sending.

  OUTBOX_LEASE_S   the lease (seconds)
  OUTBOX_BATCH     how many due entries one claim takes
  OUTBOX_CRASH     "<step>:<n>": SIGKILL itself at the n-th time it reaches step:
                     claimed  after a claim, before anything is handed to the gateway
                     sending  after an entry is marked sending, before the gateway call
                     sent     after the gateway sent the message, before it is marked sent
  OUTBOX_GO_FILE   wait until this file exists before draining (so two senders start together)

Each line: the text, the group it went to and the sender's pid. Prints "ready" once connected and "drained" when done (the tests wait on these lines or on the exit).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.domain.messages import OutboundMessage
from bot.domain.outbox import OutboxStatus, QueuedMessage
from bot.ports import SystemClock
from bot.services.sending import OutboxSender, SendingPolicy
from bot.storage.channel import SqlOutbox
from bot.storage.engine import make_engine, session_factory

UNSETTLED = {OutboxStatus.QUEUED, OutboxStatus.CLAIMED, OutboxStatus.SENDING}


class Crash:
    """Kills the process (SIGKILL: no clean-up of any kind) the n-th time the chosen step is reached."""

    def __init__(self, spec: str) -> None:
        step, _, count = spec.partition(":")
        self.step, self.left = step, int(count or 1)

    def reached(self, step: str) -> None:
        """Count one arrival at step; die on the chosen one."""
        if step != self.step:
            return
        self.left -= 1
        if self.left == 0:
            os.kill(os.getpid(), signal.SIGKILL)


class CrashingOutbox(SqlOutbox):
    """The real outbox, with the crash points between its steps."""

    def __init__(self, sessions: sessionmaker[Session], crash: Crash) -> None:
        super().__init__(sessions)
        self._crash = crash

    def claim_due(
        self,
        *,
        now: datetime,
        limit: int,
        owner: str,
        lease: timedelta,
        channel: str | None = None,
        account: str | None = None,
    ) -> list[QueuedMessage]:
        claimed = super().claim_due(now=now, limit=limit, owner=owner, lease=lease, channel=channel, account=account)
        if claimed:
            self._crash.reached("claimed")
        return claimed

    def start_send(self, entry_id: int, owner: str, *, now: datetime, lease: timedelta) -> bool:
        started = super().start_send(entry_id, owner, now=now, lease=lease)
        if started:
            self._crash.reached("sending")
        return started


class FileGateway:
    """Sending is appending a line to a file, flushed to disk before the send returns."""

    def __init__(self, path: Path, crash: Crash) -> None:
        self._path = path
        self._crash = crash

    async def send(self, message: OutboundMessage) -> None:
        sent_to = {"text": message.text, "group": message.group_id, "pid": os.getpid()}
        line = json.dumps(sent_to, ensure_ascii=False) + "\n"
        with self._path.open("a", encoding="utf-8") as sent:
            sent.write(line)
            sent.flush()
            os.fsync(sent.fileno())
        self._crash.reached("sent")


async def drain(sender: OutboxSender, outbox: SqlOutbox) -> None:
    """Send until nothing is left to settle (waiting for other senders' leases to run out)."""
    while True:
        await sender.send_due()
        if not UNSETTLED & set(outbox.counts()):
            return
        await asyncio.sleep(0.05)  # a lease of another sender is still running


def main() -> None:
    crash = Crash(os.environ.get("OUTBOX_CRASH", ""))
    engine = make_engine(os.environ["OUTBOX_DATABASE_URL"])
    outbox = CrashingOutbox(session_factory(engine), crash)
    policy = SendingPolicy(
        interval_s=0.0,
        jitter_s=0.0,
        lease_s=float(os.environ.get("OUTBOX_LEASE_S", "1")),
        batch=int(os.environ.get("OUTBOX_BATCH", "5")),
    )
    sender = OutboxSender(outbox, FileGateway(Path(os.environ["OUTBOX_SENT_FILE"]), crash), SystemClock(), policy)
    outbox.counts()  # connected
    print("ready", flush=True)
    go = os.environ.get("OUTBOX_GO_FILE")
    while go and not Path(go).exists():
        time.sleep(0.01)
    asyncio.run(drain(sender, outbox))
    print("drained", json.dumps(Counter(outbox.counts())), flush=True)
    engine.dispose()


if __name__ == "__main__":
    main()
