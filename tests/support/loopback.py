"""What the loopback stand-ins for webhook peers (the WeCom robot, the SMS relay) share: a threaded HTTP server on a
free loopback port, bound and listening before it is used, and a JSON answer written even to a client that left."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def answer_json(
    handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> None:
    """Write status, headers and payload as JSON; a client that gave up waiting (a timeout test) is no error."""
    body = json.dumps(payload).encode()
    try:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:
        pass


@contextmanager
def loopback_server(
    handler: type[BaseHTTPRequestHandler], *, path: str, name: str, held: list[threading.Event]
) -> Iterator[str]:
    """Serve handler on a free loopback port and yield its address with path; afterwards release every held answer
    and stop."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        for release in held:  # nothing stays held
            release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def refusing_address(path: str) -> Iterator[str]:
    """An address on a loopback port that is bound but never listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
