"""A restart loses nothing: replies queued when the process is killed go out after it restarts, and messages it
already handled are not answered again (a real `python -m bot run` process, killed with SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.runtime import SERVING
from tests.conftest import REPO
from tests.support.gateway import TOKEN, Gateway, running_gateway

pytestmark = pytest.mark.slow
ROOM = "room-3@chatroom"


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with running_gateway() as running:
        yield running


@dataclass
class BotProcess:
    """A `python -m bot run` process and the file its output goes to."""

    process: subprocess.Popen[bytes]
    log: Path

    def wait_serving(self, timeout: float = 300.0) -> None:
        """Wait for the readiness line (logged in, handling messages and sending); fail early if it died."""
        deadline = time.monotonic() + timeout
        while SERVING not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"the assistant is not serving (exit code {self.process.poll()}):\n{tail}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL if it hangs)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _start(tmp_path: Path, gateway: Gateway, interval_s: float, **settings: str) -> BotProcess:
    env = {
        **os.environ,  # PYTHONPATH included: the child imports the same `bot` package as the tests
        "BOT_DATA_DIR": str(tmp_path / "data"),
        "BOT_KNOWLEDGE_DIR": str(REPO / "knowledge"),
        "BOT_WECHATY_ENDPOINT": gateway.endpoint,
        "BOT_WECHATY_TOKEN": TOKEN,
        "BOT_SEND_INTERVAL_S": str(interval_s),
        "BOT_SEND_JITTER_S": "0",
        "BOT_CONSOLE_ENABLED": "false",
        **settings,
    }
    log = tmp_path / f"bot-{time.monotonic_ns()}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, stdout=output, stderr=output
        )
    return BotProcess(process, log)


def _statuses(tmp_path: Path, table: str) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "assistant.db")) as db:
        return dict(db.execute(f"select status, count(*) from {table} group by status").fetchall())


def _outbox(tmp_path: Path) -> dict[str, int]:
    return _statuses(tmp_path, "outbox")


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (sqlite3.Error, OSError):  # not up yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _replies_to(gateway: Gateway, resident: str) -> int:
    return sum(resident in m["mentionIdList"] for m in gateway.sent())


def _logged_in(gateway: Gateway, marker: str) -> bool:
    gateway.say("wxid_wang", f"@社区小助手 你好{marker}", room=ROOM, mentions=("bot",))
    time.sleep(0.5)
    return any("@王师傅" in str(m["text"]) for m in gateway.sent())


def test_queued_replies_survive_a_kill_and_handled_messages_are_not_answered_again(
    tmp_path: Path, gateway: Gateway
) -> None:
    first = _start(tmp_path, gateway, interval_s=30.0)  # slow sending: replies pile up in the outbox
    try:
        first.wait_serving()
        questions = ["灭火器过期了找谁换", "社区食堂几点开饭", "社区图书馆几点开门"]
        for question in questions:
            gateway.say("wxid_li", f"@社区小助手 {question}", room=ROOM, mentions=("bot",))
        # The first reply leaves at once; the other two wait out the 30-second interval.
        _wait(lambda: _outbox(tmp_path) == {"sent": 1, "queued": 2}, 60, "one sent and two queued replies")
        first.kill()
    finally:
        first.stop()
    assert _replies_to(gateway, "wxid_li") == 1
    handled = [m["id"] for m in gateway.received() if any(q in str(m["text"]) for q in questions)]

    second = _start(tmp_path, gateway, interval_s=0.05)
    try:
        second.wait_serving()
        _wait(lambda: _replies_to(gateway, "wxid_li") >= 3, 90, "the queued replies")
        for message_id in handled:
            gateway.redeliver(str(message_id))
        time.sleep(2)
        assert _replies_to(gateway, "wxid_li") == 3
        assert _outbox(tmp_path).get("queued", 0) == 0
    finally:
        second.stop()


def test_a_dropped_connection_is_restored_with_backoff(tmp_path: Path) -> None:
    from bot.app import build_knowledge
    from bot.config import Settings
    from bot.runtime import WechatRuntime
    from tests.support.gateway import free_port, serving_in_thread

    port, control = free_port(), free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        knowledge_dir=REPO / "knowledge",
        send_interval_s=0.05,
        send_jitter_s=0.0,
        _env_file=None,
    )  # type: ignore[call-arg]
    services = build_knowledge(settings)
    services.ingestor.ingest(settings.knowledge_dir)
    with contextlib.ExitStack() as runtime_scope:
        with running_gateway(port=port, control=control) as gateway:
            runtime = WechatRuntime(services, endpoint=gateway.endpoint, token=TOKEN, login_timeout_s=30)
            halt = runtime_scope.enter_context(serving_in_thread(runtime, poll_s=0.1, health_s=0.5))
        # The gateway is gone (the runtime keeps running); a new one comes up on the same port.
        with running_gateway(port=port, control=control) as gateway:
            _wait(lambda: _logged_in(gateway, "again"), 60, "the runtime to reconnect and answer")
            assert halt() < 15  # stops cleanly, without the library's 60-second restart pause
