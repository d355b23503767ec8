"""An OpenAI-compatible chat-completions server on loopback, scripted per test (stands in for a cloud LLM)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = Callable[[dict[str, Any]], tuple[int, dict[str, Any], float]]


def completion(content: str) -> dict[str, Any]:
    """A chat.completion response body with one assistant message."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def replies(content: str, delay_s: float = 0.0) -> Behaviour:
    """Always answer with content (after delay_s)."""
    return lambda request: (200, completion(content), delay_s)


def fails(status: int = 500) -> Behaviour:
    """Always answer with an OpenAI-style error."""
    body = {"error": {"message": "upstream exploded", "type": "server_error", "code": None}}
    return lambda request: (status, body, 0.0)


@dataclass
class Held:
    """Answer with content only once released; arrived is set as each request comes in (timeout tests wait on it)."""

    content: str
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def __call__(self, request: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        """Hold this request until released (at most 30 s, so a failing test cannot hang the server)."""
        self.arrived.set()
        self.released.wait(timeout=30)
        return 200, completion(content=self.content), 0.0


@dataclass
class FakeLLM:
    """The running server: its base URL, the requests it received, and the behaviour to use next."""

    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    behaviour: Behaviour = field(default_factory=lambda: replies("根据资料 [1]。"))

    def prompt_text(self, index: int = -1) -> str:
        """All message contents of one received request, joined."""
        return "\n".join(m["content"] for m in self.requests[index]["messages"])


@contextmanager
def fake_llm_server() -> Iterator[FakeLLM]:
    """Serve /v1/chat/completions on 127.0.0.1 with a free port for the duration of the block."""
    state = FakeLLM(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found"}})
                return
            state.requests.append(request)
            status, body, delay = state.behaviour(request)
            if delay:
                time.sleep(delay)
            self._send(status, body)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
