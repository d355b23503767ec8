"""The Node Wechaty puppet-service gateway (serving the mock puppet) as a test fixture helper."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GATEWAY_DIR = Path(__file__).parent / "wechaty_gateway"
TOKEN = "insecure_test_token_0"


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install_gateway() -> None:
    """`npm ci` from the lockfile, once (node_modules is not committed)."""
    if (GATEWAY_DIR / "node_modules" / "wechaty-puppet-service").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for the Wechaty gateway tests")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=GATEWAY_DIR, check=True, timeout=600, capture_output=True
    )


@dataclass
class Gateway:
    """A running gateway: its gRPC endpoint and the control API."""

    endpoint: str
    control: str

    def say(self, sender: str, text: str, *, room: str | None = None, mentions: tuple[str, ...] = ()) -> float:
        """A resident speaks (in a room, or privately to the bot); the gateway's timestamp in ms."""
        answer = self._post("/say", {"from": sender, "text": text, "room": room, "mentions": list(mentions)})
        return float(answer.get("at", 0))

    def send_image(self, sender: str, content: bytes, *, room: str | None = None, name: str = "photo.jpg") -> float:
        """A resident sends a picture (in a room, or privately to the bot); the gateway's timestamp in ms."""
        encoded = base64.b64encode(content).decode("ascii")
        answer = self._post("/image", {"from": sender, "room": room, "base64": encoded, "name": name})
        return float(answer.get("at", 0))

    def redeliver(self, message_id: str) -> None:
        """Emit an already delivered message again."""
        self._post("/redeliver", {"id": message_id})

    def join(self, room: str, members: dict[str, str], *, by: str) -> dict[str, Any]:
        """Members (id: name, created when new) are invited into a room by a resident: the puppet emits room-join,
        whose payload is returned (for rejoin)."""
        listed = [{"id": member, "name": name} for member, name in members.items()]
        return dict(self._post("/join", {"room": room, "members": listed, "by": by}))

    def rejoin(self, payload: dict[str, Any]) -> None:
        """Emit an already delivered room-join event again."""
        self._post("/rejoin", payload)

    def hold_acknowledgements(self) -> None:
        """From now on each send is recorded but the bot hears it went only after release_acknowledgements()."""
        self._post("/hold", {})

    def release_acknowledgements(self) -> None:
        """Acknowledge the held sends and stop holding."""
        self._post("/release", {})

    def sent(self) -> list[dict[str, Any]]:
        """Everything the bot sent."""
        return list(self._get("/sent"))

    def refused(self) -> list[dict[str, Any]]:
        """What the bot tried to send to a room it is not in (refused, as WeChat does)."""
        return list(self._get("/refused"))

    def leave(self, room: str) -> None:
        """The room's owner removes the bot from the room."""
        self._post("/leave", {"room": room})

    def received(self) -> list[dict[str, Any]]:
        """Everything residents sent."""
        return list(self._get("/received"))

    def wait_for_sent(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until the bot has sent at least count messages."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if int(self._get("/sent/count")["count"]) >= count:  # polled cheaply: the list may be thousands long
                return self.sent()
            time.sleep(0.1)
        raise AssertionError(f"the bot sent {len(self.sent())} messages, expected {count}")

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        request = urllib.request.Request(self.control + path, data=json.dumps(payload).encode(), method="POST")
        return json.loads(urllib.request.urlopen(request, timeout=10).read() or b"{}")

    def _get(self, path: str) -> Any:
        return json.loads(urllib.request.urlopen(self.control + path, timeout=10).read())


@contextmanager
def running_gateway(
    port: int | None = None,
    control: int | None = None,
    *,
    bot: str = "bot:社区小助手",
    rooms: tuple[str, ...] = (),
    mock_rooms: int = 0,
    start_timeout_s: float = 60.0,
) -> Iterator[Gateway]:
    """Start the gateway (on free ports unless given) logged in as bot ("id:name"), with more rooms of the bot if
    asked (rooms by id, and mock_rooms numbered ones, mock-0001@chatroom …); stop it afterwards."""
    install_gateway()
    port, control = port or free_port(), control or free_port()
    node = shutil.which("node") or "node"
    process = subprocess.Popen(
        [node, "gateway.mjs"],
        cwd=GATEWAY_DIR,
        env={
            "PATH": str(Path(node).parent),
            "GATEWAY_PORT": str(port),
            "CONTROL_PORT": str(control),
            "GATEWAY_TOKEN": TOKEN,
            "GATEWAY_BOT": bot,
            "GATEWAY_ROOMS": ",".join(rooms),
            "GATEWAY_MOCK_ROOMS": str(mock_rooms),
            "WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER": "true",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gateway = Gateway(endpoint=f"127.0.0.1:{port}", control=f"http://127.0.0.1:{control}")
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                gateway.sent()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Wechaty gateway did not start") from None
                time.sleep(0.2)
        yield gateway
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def serving_in_thread(
    runtime: Any, *, login_timeout_s: float = 40.0, **run_options: float
) -> Iterator[Callable[[], float]]:
    """Run a WechatRuntime in its own event-loop thread until the block ends, waiting for its login first.

    Yields a function that stops the runtime and returns how long stopping took (seconds); the block's end calls it
    too, so stopping twice is harmless.
    """
    loop, stop = asyncio.new_event_loop(), asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(runtime.run(stop, **run_options),), daemon=True)
    thread.start()

    def halt() -> float:
        started = time.monotonic()
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
        return time.monotonic() - started

    try:
        deadline = time.monotonic() + login_timeout_s
        while not runtime.channel.connected:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the assistant did not log in to the gateway")
            time.sleep(0.1)
        yield halt
    finally:
        if thread.is_alive():
            halt()
