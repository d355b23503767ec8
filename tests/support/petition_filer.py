"""An assistant process for the petition crash tests: the whole application on PETITION_DATABASE_URL handles what its
inbox still holds, then receives PETITION_MESSAGE (a resident's message as a JSON object: id, text, sender, group)
the way the WeChat runtime does (recorded in the inbox, then routed), and drains the outbox through a gateway that
appends each message it sends to PETITION_SENT_FILE (tests.support.outbox_sender.FileGateway).

  PETITION_DATA_DIR  the data directory (an empty knowledge base: a petition never reaches answering)
  PETITION_CRASH     SIGKILL itself at the first time it reaches this step:
                       received  the message recorded in the inbox, not handled yet
                       filing    the petition about to be filed, its transaction not begun
                       filed     the filing transaction committed, the reply not sent yet

Prints "drained" when nothing is left to send (the tests wait on it, or on the exit).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from bot.app import Application, build_application
from bot.config import Settings
from bot.domain.messages import InboundMessage, MessageKind
from bot.domain.petitions import Filing
from bot.ports import SystemClock
from bot.services.sending import SendingPolicy
from bot.storage.petitions import SqlPetitions
from tests.support.outbox_sender import Crash, FileGateway, drain


def crash_around_filing(crash: Crash) -> None:
    """Put the filing crash points around the real SqlPetitions.file."""
    file = SqlPetitions.file

    def crashing_file(self: SqlPetitions, *args: Any, **kwargs: Any) -> Filing:
        crash.reached("filing")
        filing = file(self, *args, **kwargs)
        crash.reached("filed")
        return filing

    SqlPetitions.file = crashing_file  # type: ignore[method-assign]


def handle(application: Application, message: InboundMessage) -> None:
    """Route one message from the inbox as the runtime's handler thread does: counted as an attempt, routed, and
    marked handled when the router queued nothing."""
    inbox, clock = application.inbox, application.clock
    if inbox.begin(message.message_id) is None:
        return
    handling = application.router.handle(message)
    if not handling.recorded:
        inbox.finish(message.message_id, handling.outcome, now=clock.now())


def main() -> None:
    crash = Crash(os.environ.get("PETITION_CRASH", ""))
    crash_around_filing(crash)
    data = Path(os.environ["PETITION_DATA_DIR"])
    (data / "kb").mkdir(parents=True, exist_ok=True)
    settings = Settings(  # type: ignore[call-arg]
        data_dir=data, knowledge_dir=data / "kb", database_url=os.environ["PETITION_DATABASE_URL"], _env_file=None
    )
    application = build_application(settings)
    for waiting in application.inbox.waiting():  # what a killed process left, first
        handle(application, waiting)
    spec = json.loads(os.environ["PETITION_MESSAGE"])
    message = InboundMessage(
        message_id=spec["id"],
        channel="wechat",
        sender_id=spec["sender"],
        sender_name="李阿姨",
        text=spec["text"],
        kind=MessageKind.TEXT,
        at=SystemClock().now(),
        group_id=spec["group"],
        group_name="3号楼群",
        mentions_self=True,
    )
    if application.inbox.receive(message, now=application.clock.now()):  # delivered again after a restart: no
        crash.reached("received")
        handle(application, message)
    gateway = FileGateway(Path(os.environ["PETITION_SENT_FILE"]), crash)
    policy = SendingPolicy(interval_s=0.0, jitter_s=0.0, lease_s=1.0, batch=5)
    asyncio.run(drain(application.sender(gateway, channel="wechat", policy=policy), application.outbox))
    print("drained", flush=True)
    application.sessions.kw["bind"].dispose()


if __name__ == "__main__":
    main()
