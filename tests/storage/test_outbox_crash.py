"""kill -9 at each step of sending, with real processes on SQLite and PostgreSQL: nothing is lost and nothing is sent
twice. A sender killed after its claim leaves nothing behind once its lease runs out; one killed with a message handed
to the gateway leaves that message unconfirmed, for staff, never resent by itself. Two senders on one outbox send every
message exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.domain.messages import OutboundMessage
from bot.domain.outbox import UNCONFIRMED_NOTE, OutboxStatus
from bot.ports import SystemClock
from bot.storage.channel import SqlOutbox
from bot.storage.engine import make_engine, session_factory, upgrade
from tests.conftest import REPO

MESSAGES = [f"第{n}条通知" for n in range(8)]


def _outbox(database_url: str, texts: list[str]) -> SqlOutbox:
    engine = make_engine(database_url)
    upgrade(engine)
    outbox = SqlOutbox(session_factory(engine))
    for n, text in enumerate(texts):
        outbox.enqueue(
            OutboundMessage("wechat", text, group_id="room-3"), now=SystemClock().now(), source=f"notice:{n}"
        )
    return outbox


def _sender(database_url: str, sent: Path, **settings: str) -> subprocess.Popen[str]:
    """tests/support/outbox_sender.py as a process of its own (settings: OUTBOX_… without the prefix)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OUTBOX_DATABASE_URL": database_url,
        "OUTBOX_SENT_FILE": str(sent),
        **{f"OUTBOX_{name.upper()}": value for name, value in settings.items()},
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.outbox_sender"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finished(process: subprocess.Popen[str], timeout: float = 120) -> str:
    """Wait for the process to exit; its output (its error output too, should it fail)."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    assert "drained" in out
    return out


def _sent(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    return Counter(json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize(
    ("crash", "outcome"),
    [
        ("claimed:2", "nothing_lost"),  # after its second claim, before the gateway call
        ("sending:3", "unconfirmed_unsent"),  # the third marked sending, the gateway not called yet
        ("sent:3", "unconfirmed_sent"),  # the gateway sent the third, the process died before recording it
    ],
)
def test_a_sender_killed_at_any_step_loses_nothing_and_sends_nothing_twice(
    database_url: str, tmp_path: Path, crash: str, outcome: str
) -> None:
    outbox, sent = _outbox(database_url, MESSAGES), tmp_path / "sent.jsonl"
    killed = _sender(database_url, sent, crash=crash, batch="2", lease_s="1")
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert outbox.counts().get(OutboxStatus.QUEUED, 0) < len(MESSAGES)  # it did claim, and died holding rows

    # The next sender takes over once the dead one's leases have run out, and runs until everything is settled.
    _finished(_sender(database_url, sent, batch="2", lease_s="1"))
    times_sent = _sent(sent)
    assert max(times_sent.values()) == 1  # never twice
    third = MESSAGES[2]
    if outcome == "nothing_lost":
        assert set(times_sent) == set(MESSAGES)
        assert outbox.counts() == {"sent": len(MESSAGES)} and outbox.unconfirmed() == []
        return
    # The third was handed to the gateway (or about to be) when the process died: it may have gone out, so it is
    # kept as unconfirmed, listed for staff and not sent again; every other message went out once.
    assert set(times_sent) == set(MESSAGES) - ({third} if outcome == "unconfirmed_unsent" else set())
    assert outbox.counts() == {"sent": len(MESSAGES) - 1, "unconfirmed": 1}
    (unconfirmed,) = outbox.unconfirmed()
    assert (unconfirmed.text, unconfirmed.source, unconfirmed.last_error) == (third, "notice:2", UNCONFIRMED_NOTE)
    assert outbox.deliveries("notice:2") == [unconfirmed]
    if outcome == "unconfirmed_unsent":  # staff looked in the group, did not find it, and send it again
        assert outbox.resend(unconfirmed.id, now=SystemClock().now())
        _finished(_sender(database_url, sent, batch="2", lease_s="1"))
        assert _sent(sent) == Counter(MESSAGES)
        assert outbox.counts() == {"sent": len(MESSAGES)}


def test_two_senders_on_one_outbox_send_every_message_exactly_once(database_url: str, tmp_path: Path) -> None:
    texts = [f"通知{n:03d}" for n in range(200)]
    outbox, go = _outbox(database_url, texts), tmp_path / "go"
    files = [tmp_path / "sender-a.jsonl", tmp_path / "sender-b.jsonl"]
    senders = [_sender(database_url, path, batch="5", lease_s="30", go_file=str(go)) for path in files]
    for sender in senders:  # both connected before either drains, so they really compete
        assert sender.stdout is not None and sender.stdout.readline().strip() == "ready"
    go.touch()
    for sender in senders:
        _finished(sender)
    per_sender = [_sent(path) for path in files]
    assert sum(per_sender, Counter()) == Counter(texts)  # each message sent exactly once
    assert all(per_sender)  # by both senders
    assert outbox.counts() == {"sent": len(texts)}
