"""Serving the console with uvicorn on its own thread, beside the chat channel."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from bot.domain.errors import AssistantError


class ConsoleUnavailableError(AssistantError):
    """The console could not start (its port is taken, say); the message says what to do, in Chinese."""


class ConsoleServer:
    """One uvicorn server in a daemon thread (no signal handlers of its own: the main program owns Ctrl-C)."""

    def __init__(self, app: FastAPI, *, host: str, port: int) -> None:
        self.host, self.port = host, port
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="console", daemon=True)

    @property
    def address(self) -> str:
        """The URL staff open."""
        shown = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host
        return f"http://{shown}:{self.port}/"

    def start(self, timeout_s: float = 15.0) -> None:
        """Start serving; ConsoleUnavailableError if it has not started within timeout_s."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConsoleUnavailableError(
                    f"控制台无法在 {self.host}:{self.port} 启动（端口可能已被占用），"
                    "请用 BOT_CONSOLE_PORT 换一个端口，或用 BOT_CONSOLE_ENABLED=false 关闭控制台"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
