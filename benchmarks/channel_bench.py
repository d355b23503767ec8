"""Channel benchmark: messages per second through the whole path (gRPC gateway -> channel -> router -> answer ->
outbox -> gateway) and latency from a resident's message to the reply leaving the bot, without send throttling.

Run: .venv/bin/python benchmarks/channel_bench.py [--rate 30] [--seconds 10]
It starts the Node Wechaty gateway serving the mock puppet on loopback (npm ci on first use).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bot.app import build_knowledge  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.runtime import WechatRuntime  # noqa: E402
from tests.support.gateway import TOKEN, running_gateway  # noqa: E402

QUESTIONS = [
    "灭火器过期了找谁换",
    "社区食堂几点开饭",
    "社区图书馆几点开门",
    "高龄津贴每个月能领多少钱",
    "垃圾几点可以扔",
    "居住证要带什么材料",
    "物业报修打哪个电话",
    "电动车充电棚在哪里",
]
RESIDENTS = ["wxid_li", "wxid_wang", "wxid_zhao"]


def main() -> None:
    """Inject messages at a steady rate and print throughput and latency figures as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=30.0, help="messages per second offered")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_gateway() as gateway:
        settings = Settings(
            data_dir=Path(tmp),
            knowledge_dir=REPO / "knowledge",
            send_interval_s=0.0,
            send_jitter_s=0.0,
            rate_per_resident_per_minute=1000,
            rate_per_group_per_minute=10000,
            _env_file=None,  # type: ignore[call-arg]
        )
        services = build_knowledge(settings)
        services.ingestor.ingest(settings.knowledge_dir)
        services.assistant.prepare()
        loop, stop = asyncio.new_event_loop(), asyncio.Event()
        runtime = WechatRuntime(services, endpoint=gateway.endpoint, token=TOKEN, login_timeout_s=60)
        thread = threading.Thread(target=loop.run_until_complete, args=(runtime.run(stop, poll_s=0.05),), daemon=True)
        thread.start()
        while not runtime.channel.connected:
            time.sleep(0.1)
        gateway.say("wxid_li", "@社区小助手 你好", room="room-3@chatroom", mentions=("bot",))
        gateway.wait_for_sent(1)
        before = len(gateway.sent())

        total = int(args.rate * args.seconds)
        offered: list[float] = []
        started = time.perf_counter()
        for n in range(total):
            target = started + n / args.rate
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            offered.append(
                gateway.say(
                    RESIDENTS[n % 3],
                    f"@社区小助手 {QUESTIONS[n % len(QUESTIONS)]}",
                    room="room-3@chatroom",
                    mentions=("bot",),
                )
            )
        sent = gateway.wait_for_sent(before + total, timeout=120)[before:]
        elapsed = (max(float(m["at"]) for m in sent) - offered[0]) / 1000
        # Replies leave in arrival order (one outbox, oldest first): the n-th reply answers the n-th message.
        latencies = [float(m["at"]) - at for m, at in zip(sent, offered, strict=True)]
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
    print(
        json.dumps(
            {
                "messages": total,
                "offered_per_s": args.rate,
                "handled_per_s": round(total / elapsed, 1),
                "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1),
                "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1),
                "latency_max_ms": round(max(latencies), 1),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
