"""Notice fan-out benchmark: one notice queued to 2,000 groups (one bulk outbox row per group, as a notice run
queues it) and delivered through the Node Wechaty gateway on loopback by one runtime (the real python-wechaty client,
outbox and sender). Measures our overhead with the send interval set to zero, then whether the achieved rate matches
a realistic configured interval (without and with jitter). Prints figures as JSON; asserts nothing about time.

Run: .venv/bin/python benchmarks/notice_bench.py [--groups 2000] [--paced-groups 200] [--interval 1.0] [--jitter 0.5]
It starts the gateway with that many mock rooms (npm ci on first use).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.app import Application, build_application  # noqa: E402
from bot.channels.wechaty import WECHAT  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.domain.messages import OutboundMessage  # noqa: E402
from bot.domain.outbox import SendPriority  # noqa: E402
from bot.rag.embeddings import Embeddings  # noqa: E402
from bot.runtime import WechatRuntime  # noqa: E402
from bot.services.sending import SendingPolicy  # noqa: E402
from bot.storage.channel import queued_row  # noqa: E402
from tests.support.gateway import TOKEN, Gateway, running_gateway, serving_in_thread  # noqa: E402

NOTICE = "【停水通知】因管道检修，本周六9:00至15:00小区停水，请提前储水。"


def mock_groups(count: int) -> list[str]:
    """The ids of the gateway's numbered mock rooms (GATEWAY_MOCK_ROOMS)."""
    return [f"mock-{n:04d}@chatroom" for n in range(1, count + 1)]


def queue_notice(application: Application, groups: list[str], *, source: str, text: str = NOTICE) -> None:
    """Queue one notice to every group as a notice run does: one bulk outbox row per group, keyed by source and
    group, in one transaction (the notices service does this at merge)."""
    now = application.clock.now()
    message = (OutboundMessage(WECHAT, text, group_id=group) for group in groups)
    with application.sessions.begin() as session:
        session.add_all(
            queued_row(m, now, source=source, dedupe_key=f"{source}:{m.group_id}", priority=SendPriority.BULK)
            for m in message
        )


def fan_out(
    application: Application, gateway: Gateway, groups: list[str], policy: SendingPolicy, *, source: str
) -> dict[str, Any]:
    """Log one runtime in with policy, queue the notice to groups and wait until every group has it; the figures."""
    runtime = WechatRuntime(application, endpoint=gateway.endpoint, token=TOKEN, login_timeout_s=300)
    runtime.sender = application.sender(runtime.channel, channel=WECHAT, policy=policy)
    before = len(gateway.sent())
    started = time.perf_counter()
    with serving_in_thread(runtime, login_timeout_s=300, poll_s=0.2):
        logged_in = time.perf_counter()
        queue_started_ms = time.time() * 1000
        queue_notice(application, groups, source=source)
        queued = time.perf_counter()
        sent = gateway.wait_for_sent(
            before + len(groups), timeout=len(groups) * (policy.interval_s + policy.jitter_s) + 600
        )
    sent = sent[before:]
    stamps = sorted(float(m["at"]) for m in sent)
    gaps = [(b - a) / 1000 for a, b in itertools.pairwise(stamps)]
    delivered_s = (stamps[-1] - queue_started_ms) / 1000
    figures: dict[str, Any] = {
        "groups": len(groups),
        "interval_s": policy.interval_s,
        "jitter_s": policy.jitter_s,
        "login_s": round(logged_in - started, 2),
        "queue_s": round(queued - logged_in, 3),
        "queue_to_last_delivery_s": round(delivered_s, 2),
        "delivered_per_s": round(len(groups) / delivered_s, 1),
        "every_group_once": sorted(str(m["conversationId"]) for m in sent) == sorted(groups),
    }
    if policy.interval_s or policy.jitter_s:
        configured = 1 / (policy.interval_s + policy.jitter_s / 2)  # the jitter is uniform: its mean is half
        achieved = len(gaps) / ((stamps[-1] - stamps[0]) / 1000)
        figures |= {
            "configured_per_min": round(configured * 60, 2),
            "achieved_per_min": round(achieved * 60, 2),
            "deviation_pct": round((achieved / configured - 1) * 100, 2),
            "mean_gap_s": round(statistics.fmean(gaps), 3),
            "min_gap_s": round(min(gaps), 3),
            "max_gap_s": round(max(gaps), 3),
        }
    return figures


def run(
    groups: int, paced_groups: int, interval_s: float, jitter_s: float, embeddings: Embeddings | None = None
) -> Iterator[dict[str, Any]]:
    """The three runs (overhead, paced, paced with jitter) on one gateway and one fresh database, each run's figures
    as soon as it is done."""
    with tempfile.TemporaryDirectory() as tmp, running_gateway(mock_rooms=max(groups, paced_groups)) as gateway:
        settings = Settings(data_dir=Path(tmp) / "data", knowledge_dir=Path(tmp) / "kb", _env_file=None)  # type: ignore[call-arg]
        application = build_application(settings, embeddings=embeddings)
        rooms = mock_groups(max(groups, paced_groups))
        yield fan_out(application, gateway, rooms[:groups], SendingPolicy(0, 0), source="notice:bench:1")
        for n, jitter in enumerate((0.0, jitter_s), start=2):
            policy = SendingPolicy(interval_s, jitter)
            yield fan_out(application, gateway, rooms[:paced_groups], policy, source=f"notice:bench:{n}")


def main() -> None:
    """Run the benchmark and print its figures as JSON lines."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=2000, help="groups the notice goes to at interval zero")
    parser.add_argument("--paced-groups", type=int, default=200, help="groups for the paced runs")
    parser.add_argument("--interval", type=float, default=1.0, help="the paced runs' send interval (s)")
    parser.add_argument("--jitter", type=float, default=0.5, help="the second paced run's jitter (s)")
    args = parser.parse_args()
    for figures in run(args.groups, args.paced_groups, args.interval, args.jitter):
        print(json.dumps(figures, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
