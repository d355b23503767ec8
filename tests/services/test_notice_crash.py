"""kill -9 in the middle of a broadcast to 50 groups, with real processes on SQLite and PostgreSQL: killed while the
run's messages were being queued, or while they were being sent, and restarted, every group gets the notice exactly
once; the only exception is the one message the killed sender had handed to the gateway, left unconfirmed for staff
(never resent by itself)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.domain.outbox import OutboxStatus
from bot.ports import SystemClock
from bot.storage.channel import SqlGroupConfigs, SqlOutbox
from bot.storage.engine import make_engine, session_factory, upgrade
from bot.storage.notices import SqlNotices
from tests.conftest import REPO
from tests.support.notice_broadcast import TEXT

GROUPS = [f"room-{n:02d}@chatroom" for n in range(50)]


def _broadcast(database_url: str, sent: Path, *, publish: bool, crash: str = "") -> subprocess.Popen[str]:
    """tests/support/notice_broadcast.py as a process of its own."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NOTICE_DATABASE_URL": database_url,
        "NOTICE_SENT_FILE": str(sent),
        "NOTICE_PUBLISH": "1" if publish else "",
        "NOTICE_CRASH": crash,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.notice_broadcast"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _sent(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert {line["text"] for line in lines} <= {TEXT}
    return Counter(line["group"] for line in lines)


@pytest.mark.parametrize("crash", ["fanout:25", "sending:20", "sent:20"])
def test_a_broadcast_killed_mid_way_reaches_every_group_once(database_url: str, tmp_path: Path, crash: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    groups = SqlGroupConfigs(sessions, enabled_by_default=True, keywords=())
    for group_id in GROUPS:
        groups.get_or_register(group_id=group_id, channel="wechat", name=group_id, now=SystemClock().now())
    outbox, sent = SqlOutbox(sessions), tmp_path / "sent.jsonl"

    killed = _broadcast(database_url, sent, publish=True, crash=crash)
    _, err = killed.communicate(timeout=180)
    assert killed.returncode == -signal.SIGKILL, err[-3000:]
    (run,) = SqlNotices(sessions).runs(1)
    if crash.startswith("fanout"):
        # Killed with half the groups added to the run's transaction: nothing of it was committed, nothing sent
        assert outbox.counts() == {} and _sent(sent) == Counter() and run.state == "queuing"
    else:
        assert run.state == "queued" and run.groups == len(GROUPS) and 0 < sum(_sent(sent).values()) < len(GROUPS)

    restarted = _broadcast(database_url, sent, publish=False)
    out, err = restarted.communicate(timeout=180)
    assert restarted.returncode == 0 and "drained" in out, err[-3000:]
    times = _sent(sent)
    assert max(times.values()) == 1  # no group twice
    unconfirmed = outbox.unconfirmed()
    assert len(unconfirmed) == (0 if crash.startswith("fanout") else 1)
    left_out = {d.target.split(":group:")[1] for d in unconfirmed}
    if crash.startswith("sending"):  # marked sending, the gateway never called: not sent, waiting for staff
        assert set(times) == set(GROUPS) - left_out
    else:  # none skipped (the unconfirmed one of "sent" did go out, once)
        assert set(times) == set(GROUPS)
    assert outbox.counts() == {
        OutboxStatus.SENT: len(GROUPS) - len(unconfirmed),
        **({OutboxStatus.UNCONFIRMED: 1} if unconfirmed else {}),
    }
    (run,) = SqlNotices(sessions).runs(1)
    assert run.state == "queued" and run.groups == len(GROUPS)
    engine.dispose()
