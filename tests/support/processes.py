"""Child processes the tests start: stopped cleanly, or killed when they hang; the assistant as `python -m bot run`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.runtime import SERVING
from tests.conftest import REPO
from tests.support.gateway import TOKEN


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL if it has not exited within 30 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


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
        stop(self.process)


def start_bot(directory: Path, endpoint: str, interval_s: float, **settings: str) -> BotProcess:
    """`python -m bot run` in directory (its data in directory/data) on the Wechaty gateway at endpoint, sending at
    interval_s without jitter, the console off; settings are more BOT_* variables."""
    env = {
        **os.environ,  # PYTHONPATH included: the child imports the same `bot` package as the tests
        "BOT_DATA_DIR": str(directory / "data"),
        "BOT_KNOWLEDGE_DIR": str(REPO / "knowledge"),
        "BOT_WECHATY_ENDPOINT": endpoint,
        "BOT_WECHATY_TOKEN": TOKEN,
        "BOT_SEND_INTERVAL_S": str(interval_s),
        "BOT_SEND_JITTER_S": "0",
        "BOT_CONSOLE_ENABLED": "false",
        **settings,
    }
    log = directory / f"bot-{time.monotonic_ns()}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=directory, env=env, stdout=output, stderr=output
        )
    return BotProcess(process, log)
