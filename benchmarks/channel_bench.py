"""Channel benchmark: messages per second through the whole path (gRPC gateway -> channel -> router -> answer ->
outbox -> gateway) and latency from a resident's message to the reply leaving the bot, without send throttling.

Run: .venv/bin/python benchmarks/channel_bench.py [--rate 30] [--seconds 10]
It starts the Node Wechaty gateway serving the mock puppet on loopback (npm ci on first use).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bot.app import build_application  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.runtime import WechatRuntime  # noqa: E402
from tests.support.gateway import TOKEN, Gateway, running_gateway, serving_in_thread  # noqa: E402

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
        services = build_application(settings)
        services.ingestor.ingest(settings.knowledge_dir)
        services.prepare()  # as `run` does: answering and petition recognition loaded before the first message
        runtime = WechatRuntime(services, endpoint=gateway.endpoint, token=TOKEN, login_timeout_s=60)
        with serving_in_thread(runtime, poll_s=0.05):
            latencies, total, elapsed = _measure(gateway, args.rate, args.seconds)
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


def _measure(gateway: Gateway, rate: float, seconds: float) -> tuple[list[float], int, float]:
    """Offer `rate` messages a second for `seconds`; latencies (ms), messages, and seconds until the last reply."""
    gateway.say("wxid_li", "@社区小助手 你好", room="room-3@chatroom", mentions=("bot",))
    gateway.wait_for_sent(1)
    before = len(gateway.sent())
    total = int(rate * seconds)
    offered: list[float] = []
    started = time.perf_counter()
    for n in range(total):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        question = f"@社区小助手 {QUESTIONS[n % len(QUESTIONS)]}"
        offered.append(gateway.say(RESIDENTS[n % 3], question, room="room-3@chatroom", mentions=("bot",)))
    sent = gateway.wait_for_sent(before + total, timeout=120)[before:]
    elapsed = (max(float(m["at"]) for m in sent) - offered[0]) / 1000
    # Replies leave in arrival order (one outbox, oldest first): the n-th reply answers the n-th message.
    latencies = [float(m["at"]) - at for m, at in zip(sent, offered, strict=True)]
    return latencies, total, elapsed


if __name__ == "__main__":
    main()
