"""A loopback SMS relay speaking the SMS channel's documented protocol on a real socket (see bot/channels/sms.py):
POST with "Authorization: Bearer <token>" and {"id", "to", "text", "sign"}, answered 200 {"id": …} when taken.

Like a relay it answers 401 for another token, 400 {"error": …} for a body it cannot read, and drops a repeated id
(answering 200 again, sending nothing twice); tests can script the next answers (a status with a Retry-After or an
error, an answer held back until released, or none at all: the connection dropped as by a relay killed mid-request)."""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import answer_json, loopback_server

RELAY_PATH = "/sms/send"
RELAY_TOKEN = "relay-token-7f3a9c"


@dataclass(frozen=True, slots=True)
class RelayAnswer:
    """A scripted answer: a status, an optional Retry-After and {"error": …}, or held until release is set."""

    status: int = 200
    retry_after: str = ""
    error: str = ""
    release: threading.Event | None = None
    dropped: bool = False  # the relay dies mid-request: the connection closes with no answer


@dataclass(frozen=True, slots=True)
class RelayRequest:
    """One request as the relay received it, and the status it answered (-1: none, the connection dropped)."""

    authorization: str
    content_type: str
    body: dict[str, Any]
    status: int


@dataclass
class FakeRelay:
    """The relay's state: the scripted answers, every request received and the texts it passed on to phones."""

    token: str
    scripted: deque[RelayAnswer] = field(default_factory=deque)
    requests: list[RelayRequest] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    held: list[threading.Event] = field(default_factory=list)
    url: str = ""

    def answer_next(self, *answers: RelayAnswer) -> None:
        """The next requests get these answers, in order, whatever they carry."""
        self.scripted.extend(answers)

    def wait_for(self, count: int, timeout_s: float) -> list[RelayRequest]:
        """Block until at least count requests arrived (or timeout_s passed); every request so far."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.requests) >= count, timeout=timeout_s)
            return list(self.requests)

    def decide(self, authorization: str, body: dict[str, Any]) -> RelayAnswer:
        """What the relay answers this request (or the next scripted answer); a new message it takes is sent."""
        if self.scripted:
            return self.scripted.popleft()
        if authorization != f"Bearer {self.token}":
            return RelayAnswer(401, error="invalid token")
        if not all(isinstance(body.get(name), str) and body[name] for name in ("id", "to", "text")):
            return RelayAnswer(400, error="id, to and text are required")
        if all(sent["id"] != body["id"] for sent in self.sent):
            self.sent.append(body)
        return RelayAnswer(200)


def _handler(relay: FakeRelay) -> type[BaseHTTPRequestHandler]:
    class RelayHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                body = {}
            body = body if isinstance(body, dict) else {}
            authorization = self.headers.get("Authorization", "")
            answer = relay.decide(authorization, body) if self.path == RELAY_PATH else RelayAnswer(404)
            if answer.release is not None:
                relay.held.append(answer.release)
                answer.release.wait(30)
            with relay.changed:
                relay.requests.append(
                    RelayRequest(
                        authorization,
                        self.headers.get("Content-Type", ""),
                        body,
                        -1 if answer.dropped else answer.status,
                    )
                )
                relay.changed.notify_all()
            if answer.dropped:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            reply = {"error": answer.error} if answer.error else {"id": body.get("id", "")}
            answer_json(self, answer.status, reply, {"Retry-After": answer.retry_after} if answer.retry_after else {})

        def log_message(self, format: str, *args: Any) -> None:
            return

    return RelayHandler


@contextmanager
def fake_sms_relay(token: str = RELAY_TOKEN) -> Iterator[FakeRelay]:
    """The relay on a loopback port (bound and listening before this yields: ready), taking this bearer token."""
    relay = FakeRelay(token)
    with loopback_server(_handler(relay), path=RELAY_PATH, name="fake-sms-relay", held=relay.held) as url:
        relay.url = url
        yield relay
