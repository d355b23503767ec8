"""kill -9 at each step of filing a petition, with real assistant processes on SQLite and PostgreSQL: after the
restart the resident has exactly one case and got exactly one "已登记" reply, whether the process died with the
message just received, about to file it, or with the case filed and the reply not yet sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.storage.channel import SqlInbox, SqlOutbox
from bot.storage.engine import make_engine, session_factory
from bot.storage.petitions import SqlPetitions
from tests.conftest import REPO

MESSAGE = {"id": "wx-msg-1", "text": "报事 3号楼电梯又坏了", "sender": "wxid_li", "group": "room-3@chatroom"}


def _assistant(database_url: str, tmp_path: Path, crash: str = "") -> subprocess.Popen[str]:
    """tests/support/petition_filer.py as a process of its own, receiving MESSAGE."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PETITION_DATABASE_URL": database_url,
        "PETITION_DATA_DIR": str(tmp_path / "data"),
        "PETITION_SENT_FILE": str(tmp_path / "sent.jsonl"),
        "PETITION_MESSAGE": json.dumps(MESSAGE, ensure_ascii=False),
        "PETITION_CRASH": crash,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.petition_filer"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _sent(tmp_path: Path) -> list[str]:
    path = tmp_path / "sent.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("crash", ["received", "filing", "filed"])
def test_a_kill_at_any_step_of_filing_leaves_one_case_and_one_reply(
    database_url: str, tmp_path: Path, crash: str
) -> None:
    killed = _assistant(database_url, tmp_path, crash)
    _, err = killed.communicate(timeout=180)
    assert killed.returncode == -signal.SIGKILL, err[-3000:]
    assert _sent(tmp_path) == []  # nothing told before the kill
    engine = make_engine(database_url)
    try:
        sessions = session_factory(engine)
        petitions = SqlPetitions(sessions)
        left = petitions.by_origin(MESSAGE["id"])
        if crash == "filed":  # the case, the reply and the message marked handled were committed together
            assert left is not None and SqlOutbox(sessions).counts() == {"queued": 1}
            assert SqlInbox(sessions).counts() == {"handled": 1}
        else:  # nothing of the filing: the message waits in the inbox
            assert left is None and SqlOutbox(sessions).counts() == {}
            assert SqlInbox(sessions).counts() == {"received": 1}

        # The restart handles what the inbox still holds; the platform delivering the message again changes nothing.
        restarted = _assistant(database_url, tmp_path)
        out, err = restarted.communicate(timeout=180)
        assert restarted.returncode == 0 and "drained" in out, err[-3000:]

        cases = petitions.of_reporter("wechat", "wxid_li", group_id=None, open_only=False, limit=10)
        (case,) = cases  # exactly one case, made by the message, with the year's first number
        assert (case.description, case.origin) == ("3号楼电梯又坏了", MESSAGE["id"])
        assert case.number.endswith("-0001")
        (reply,) = _sent(tmp_path)  # exactly one reply, telling that number
        assert reply == f"已登记您的诉求，编号 {case.number}。我们会尽快处理，发“查询 {case.number}”可以看进展。"
        assert SqlOutbox(sessions).counts() == {"sent": 1}
        assert SqlInbox(sessions).counts() == {"handled": 1}
    finally:
        engine.dispose()
