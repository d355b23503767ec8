"""A loopback stand-in for WeCom's group-robot webhook (企业微信群机器人), speaking its documented protocol on a real
socket: POST /cgi-bin/webhook/send?key=… with {"msgtype": "text", "text": {"content", "mentioned_list"}}, answered
with HTTP 200 and {"errcode", "errmsg"}.

Like WeCom it answers 93000 for a key it does not know, 40008 for another msgtype, 44004 for empty content, 40058 for
content over 2048 bytes and 45009 past 20 messages a minute to one robot; tests can also script the next answers
(another errcode, an HTTP error, or an answer held back until released)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.loopback import answer_json, loopback_server

SEND_PATH = "/cgi-bin/webhook/send"
ROBOT_KEY = "5f3c2a1b-8d4e-4f6a-9b7c-0e1d2c3b4a59"
OTHER_ROBOT_KEY = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@dataclass(frozen=True, slots=True)
class Answer:
    """A scripted answer: an HTTP status and a JSON body (errcode/errmsg), or held until `release` is set."""

    errcode: int = 0
    status: int = 200
    release: threading.Event | None = None


@dataclass(frozen=True, slots=True)
class RobotRequest:
    """One request as the robot received it."""

    path: str
    query: dict[str, list[str]]
    content_type: str
    body: dict[str, Any]
    errcode: int

    @property
    def key(self) -> str:
        """The key= parameter."""
        return self.query.get("key", [""])[0]

    @property
    def content(self) -> str:
        """text.content of the body."""
        return str(self.body.get("text", {}).get("content", ""))


@dataclass
class FakeRobots:
    """The server's state: the robots it knows, the scripted answers, and every request received."""

    keys: set[str]
    scripted: deque[Answer] = field(default_factory=deque)
    requests: list[RobotRequest] = field(default_factory=list)
    sent_at: dict[str, deque[float]] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)
    held: list[threading.Event] = field(default_factory=list)
    url: str = ""

    def answer_next(self, *answers: Answer) -> None:
        """The next requests get these answers, in order, whatever they carry."""
        self.scripted.extend(answers)

    def delivered(self) -> list[RobotRequest]:
        """The requests answered errcode 0: what reached the groups."""
        return [request for request in self.requests if request.errcode == 0]

    def wait_for(self, count: int, timeout_s: float) -> list[RobotRequest]:
        """Block until at least count requests arrived (or timeout_s passed); every request so far."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.requests) >= count, timeout=timeout_s)
            return list(self.requests)

    def decide(self, key: str, body: dict[str, Any]) -> Answer:
        """What WeCom would answer this request (or the next scripted answer)."""
        if self.scripted:
            return self.scripted.popleft()
        if key not in self.keys:
            return Answer(93000)
        if body.get("msgtype") != "text":
            return Answer(40008)
        content = str(body.get("text", {}).get("content", ""))
        if not content.strip():
            return Answer(44004)
        if len(content.encode("utf-8")) > 2048:
            return Answer(40058)
        now, recent = time.monotonic(), self.sent_at.setdefault(key, deque())
        while recent and recent[0] < now - 60:
            recent.popleft()
        if len(recent) >= 20:
            return Answer(45009)
        recent.append(now)
        return Answer(0)


_MESSAGES = {
    0: "ok",
    93000: "invalid webhook url",
    40008: "invalid message type",
    44004: "empty content",
    40058: "content exceed max length",
    45009: "api freq out of limit",
}


def _handler(robots: FakeRobots) -> type[BaseHTTPRequestHandler]:
    class RobotHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                body = {}
            query = parse_qs(parts.query)
            answer = robots.decide(query.get("key", [""])[0], body) if parts.path == SEND_PATH else Answer(status=404)
            if answer.release is not None:
                robots.held.append(answer.release)
                answer.release.wait(30)
            request = RobotRequest(
                parts.path,
                query,
                self.headers.get("Content-Type", ""),
                body,
                answer.errcode if answer.status == 200 else -1,
            )
            with robots.changed:
                robots.requests.append(request)
                robots.changed.notify_all()
            answer_json(
                self, answer.status, {"errcode": answer.errcode, "errmsg": _MESSAGES.get(answer.errcode, "error")}
            )

        def log_message(self, format: str, *args: Any) -> None:
            return

    return RobotHandler


@contextmanager
def fake_wecom(*keys: str) -> Iterator[FakeRobots]:
    """The robot webhook on a loopback port (bound and listening before this yields: ready), knowing these keys."""
    robots = FakeRobots(set(keys) or {ROBOT_KEY})
    with loopback_server(_handler(robots), path=SEND_PATH, name="fake-wecom", held=robots.held) as url:
        robots.url = url
        yield robots
