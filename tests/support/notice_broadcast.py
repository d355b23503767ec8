"""A process for the notice crash test: publishes a notice to every group now (when NOTICE_PUBLISH is set), finishes
any run a crash interrupted, then drains the outbox through a gateway that appends each message to a file, as the
application does at start.

  NOTICE_DATABASE_URL  the database (migrated, its groups registered)
  NOTICE_SENT_FILE     where the gateway appends what it sent (tests.support.outbox_sender.FileGateway)
  NOTICE_PUBLISH       "1": publish the notice first
  NOTICE_CRASH         "<step>:<n>": SIGKILL itself at the n-th time it reaches step: fanout (a group's row added
                       to the run's transaction, not committed), or outbox_sender's claimed/sending/sent

Prints "drained" when done.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.domain.messages import OutboundMessage
from bot.domain.notices import NoticeDraft, NoticeRun, NoticeSchedule, NoticeTargets, NoticeUrgency, ScheduleKind
from bot.domain.outbox import SendPriority
from bot.domain.staff import Actor, Role, Venue
from bot.ports import SystemClock
from bot.scheduling import JobScheduler
from bot.services.audit import StaffAudit
from bot.services.notices import NoticeDesk
from bot.services.sending import OutboxSender, SendingPolicy
from bot.storage.channel import SqlGroupConfigs
from bot.storage.engine import make_engine, session_factory
from bot.storage.models import OutboxRow
from bot.storage.notices import SqlNotices
from bot.storage.staff import SqlAuditLog
from tests.support.outbox_sender import Crash, CrashingOutbox, FileGateway, drain

TEXT = "各位居民：今晚20点至22点小区停电检修，请提前做好准备。"
ADMIN = Actor("管理员", Venue.CONSOLE, username="admin", role=Role.ADMIN)


class CrashingNotices(SqlNotices):
    """The real notice store, with a crash point after each group's row is added to a run's transaction."""

    def __init__(self, sessions: sessionmaker[Session], crash: Crash) -> None:
        super().__init__(sessions)
        self._crash = crash

    def _outbox_row(
        self, message: OutboundMessage, run: NoticeRun, *, priority: SendPriority, now: datetime
    ) -> OutboxRow:
        row = super()._outbox_row(message, run, priority=priority, now=now)
        self._crash.reached("fanout")
        return row


def main() -> None:
    crash = Crash(os.environ.get("NOTICE_CRASH", ""))
    engine = make_engine(os.environ["NOTICE_DATABASE_URL"])
    sessions = session_factory(engine)
    clock = SystemClock()
    desk = NoticeDesk(
        CrashingNotices(sessions, crash),
        SqlGroupConfigs(sessions, enabled_by_default=True, keywords=()),
        CrashingOutbox(sessions, crash),
        scheduler=JobScheduler(engine, {}, holder="notice-test", lease_s=30, misfire_grace_s=60),
        clock=clock,
        audit=StaffAudit(SqlAuditLog(sessions), clock),
        zone=UTC,
        misfire_grace=timedelta(minutes=1),
    )
    if os.environ.get("NOTICE_PUBLISH"):
        draft = NoticeDraft(
            "停电通知", TEXT, NoticeUrgency.URGENT, NoticeTargets(everyone=True), NoticeSchedule(ScheduleKind.NOW)
        )
        desk.publish(draft, actor=ADMIN, scope=None)
    desk.resume_unfinished()  # what the application does as it starts
    outbox = CrashingOutbox(sessions, crash)
    policy = SendingPolicy(interval_s=0.0, jitter_s=0.0, lease_s=1.0, batch=5)
    sender = OutboxSender(outbox, FileGateway(Path(os.environ["NOTICE_SENT_FILE"]), crash), clock, policy)
    asyncio.run(drain(sender, outbox))
    print("drained", flush=True)
    engine.dispose()


if __name__ == "__main__":
    main()
