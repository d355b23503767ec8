"""How the command line shows results: ingest summaries, replies as JSON, durations, the ingest progress bar."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from bot.domain.conversation import Reply
from bot.domain.knowledge import IngestReport
from bot.domain.messages import OutboundMessage
from bot.ports import ChatGateway
from bot.rag.ingestion import KnowledgeIngestor


def ingest_with_progress(ingestor: KnowledgeIngestor, root: Path) -> IngestReport:
    """Ingest root incrementally, with a progress bar on stderr while chunks are embedded."""
    from tqdm import tqdm

    bar: tqdm[None] | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="嵌入", unit="块", file=sys.stderr, disable=None)
        bar.update(done - bar.n)

    try:
        return ingestor.ingest(root, progress=progress)
    finally:
        if bar is not None:
            bar.close()


def format_report(report: IngestReport) -> str:
    """A short Chinese summary of an ingest run, one line per failed file."""
    lines = [
        f"知识库导入：文件 {report.files_total} 个（新增 {len(report.files_added)}，更新 {len(report.files_updated)}，"
        f"未变跳过 {len(report.files_unchanged)}，删除 {len(report.files_removed)}，失败 {len(report.failures)}）；"
        f"索引共 {report.chunks_total} 块，本次嵌入 {report.chunks_embedded} 块，用时 {report.seconds:.1f} 秒"
        + ("；嵌入模型已更换，已全部重建" if report.rebuilt else "")
    ]
    if report.calibration is not None:
        c = report.calibration
        lines.append(
            f"  回答阈值按本知识库校准为 {c.threshold:.2f}（追问 {c.followup_threshold:.2f}）：背景闲聊 "
            f"{c.background_questions} 句中 {c.background_answered:.1%}、留一未收录问题 {c.uncovered_questions} 句中 "
            f"{c.uncovered_answered:.1%} 仍会被回答；校准用时 {c.seconds:.1f} 秒"
        )
    lines += [f"  失败：{f.file} —— {f.reason}" for f in report.failures]
    if report.failures:
        lines.append("  失败的文件保留上一次成功导入的版本（如有），修正后重新导入即可。")
    return "\n".join(lines)


def reply_json(reply: Reply) -> dict[str, object]:
    """The JSON form of a reply: answer, answered, reason, score, sources, latency_ms (the answer mode, and the
    choices offered when a question was refused)."""
    sources = [s for answer in reply.answers if answer.answered for s in answer.sources]
    choices = reply.primary.choices if reply.primary else ()
    return {
        "answer": reply.text,
        "answered": reply.answered,
        "reason": reply.reason,
        "score": reply.score,
        "sources": [{"id": s.entry_id, "title": s.title, "section": s.section} for s in sources],
        "latency_ms": reply.latency_ms,
        "mode": reply.primary.mode if reply.primary else "none",
        "choices": [{"id": c.entry_id, "title": c.title, "section": c.section} for c in choices],
    }


def duration(delta: timedelta) -> str:
    """A waiting time as staff say it: "5 分钟", "2 小时 5 分钟"."""
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} 小时 {minutes % 60} 分钟" if minutes >= 60 else f"{minutes} 分钟"


def send_test_message(gateway: ChatGateway, message: OutboundMessage, *, advice: str) -> str | None:
    """Send one test message through a gateway (the `*-test` commands): None when it went, else why not in Chinese,
    with advice when it can never go as set up."""
    import asyncio

    from bot.domain.outbox import PermanentSendError, SendError

    try:
        asyncio.run(gateway.send(message))
    except SendError as exc:
        return f"{exc.reason}。{advice}" if isinstance(exc, PermanentSendError) else exc.reason
    return None
