"""Console benchmark: page latency over real HTTP with a district's week of data behind it.

Seeds a week of conversation turns (default 100,000 across 300 groups in 10 communities) and 300 open unanswered
questions, serves the console with uvicorn on loopback, and times sign-in, the dashboard (admin: every community;
cadre: one), the unanswered queue, the knowledge page and 试一试.

Run: .venv/bin/python benchmarks/console_bench.py [--turns 100000] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bot.console.server import ConsoleServer  # noqa: E402
from bot.domain.conversation import Question  # noqa: E402
from bot.domain.staff import Role  # noqa: E402
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings  # noqa: E402
from bot.storage.models import ConversationTurnRow  # noqa: E402
from tests.support.console import PASSWORD, ConsoleWorld, console_world  # noqa: E402
from tests.support.gateway import free_port  # noqa: E402

COMMUNITIES = [f"社区{n}" for n in range(10)]
ENTRIES = ["faq-elderly-01", "faq-fire-01", "faq-garbage-02", "faq-charging-01", "guide-elderly-allowance"]


def seed(world: ConsoleWorld, *, turns: int, groups: int, questions: int) -> None:
    """A week of activity: turns spread over the groups and the days, and open questions in every community."""
    now = world.application.clock.now()
    for n in range(groups):
        room = f"room-{n}@chatroom"
        world.application.groups.get_or_register(group_id=room, channel="wechat", name=f"{n}号楼群", now=now)
        world.application.groups.update(room, community=COMMUNITIES[n % len(COMMUNITIES)], now=now)
    rows = [
        {
            "at": now - timedelta(minutes=(n * 7) % (7 * 24 * 60)),
            "channel": "wechat",
            "group_id": f"room-{n % groups}@chatroom",
            "user_id": f"wxid_{n % 5000}",
            "question": "灭火器过期了找谁换",
            "reply": "……",
            "answered": n % 4 != 0,
            "reason": "matched" if n % 4 else "low_confidence",
            "score": 1.5,
            "sources": [ENTRIES[n % len(ENTRIES)]] if n % 4 else [],
            "mode": "extractive",
            "latency_ms": 8.0,
        }
        for n in range(turns)
    ]
    with world.application.sessions.begin() as session:
        for start in range(0, len(rows), 10_000):
            session.execute(insert(ConversationTurnRow), rows[start : start + 10_000])
    for n in range(questions):
        question = Question(f"第{n}个没答上的问题：楼下{n}号路灯坏了找谁", f"room-{n % groups}@chatroom", f"u{n}", now)
        world.application.escalation.escalate(question, reason="low_confidence")


def timed(call: Callable[[], httpx.Response], repeat: int) -> dict[str, float]:
    """p50 and p95 in ms of repeat calls (each must succeed)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 303), response.status_code
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1)}


def signed_in(base: str, username: str) -> httpx.Client:
    """A client with a session."""
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
    token = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    client.post("/login", data={"username": username, "password": PASSWORD, "login_csrf": token.group(1)})
    return client


def main() -> None:
    """Seed, serve, time, print JSON figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=300)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        world = console_world(Path(tmp), UniversalSentenceEncoderEmbeddings(), database_url=args.database_url)
        started = time.perf_counter()
        seed(world, turns=args.turns, groups=args.groups, questions=args.questions)
        seeding_s = time.perf_counter() - started
        world.user("chief", Role.ADMIN)
        world.user("cadre", Role.CADRE, community=COMMUNITIES[0])
        server = ConsoleServer(world.app, host="127.0.0.1", port=free_port())
        server.start()
        try:
            base = server.address.rstrip("/")
            admin, cadre = signed_in(base, "chief"), signed_in(base, "cadre")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', admin.get("/knowledge/try").text)
            assert csrf is not None

            def sign_in() -> httpx.Response:
                return signed_in(base, "chief").get("/login")

            figures = {
                "turns": args.turns,
                "groups": args.groups,
                "open_questions": args.questions,
                "database": "postgresql" if args.database_url.startswith("postgresql") else "sqlite",
                "seeding_s": round(seeding_s, 1),
                "sign_in": timed(sign_in, 10),
                "dashboard_admin": timed(lambda: admin.get("/"), args.repeat),
                "dashboard_cadre": timed(lambda: cadre.get("/"), args.repeat),
                "questions_admin": timed(lambda: admin.get("/questions"), args.repeat),
                "knowledge": timed(lambda: admin.get("/knowledge"), args.repeat),
                "try": timed(
                    lambda: admin.post(
                        "/knowledge/try", data={"csrf_token": csrf.group(1), "text": "灭火器过期了找谁换"}
                    ),
                    args.repeat,
                ),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        finally:
            server.stop()
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
