"""Benchmark: ingest throughput, query latency, cold start to first answer and peak memory, printed as figures."""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot.app import build_application
from bot.config import Settings
from bot.domain.conversation import Question
from bot.rag.loaders import iter_knowledge_files
from bot.services.evaluation import load_queries

_COMMUNITIES = ("幸福里", "和平里", "光明里", "春风里", "阳光里", "桂花里", "翠竹里", "长安里", "锦绣里", "东风里")
_FAQ_ID = re.compile(r"^(faq-[a-z0-9-]+?-\d+),", re.MULTILINE)
_GUIDE_ID = re.compile(r"^id: (\S+)$", re.MULTILINE)


def synthesize_knowledge_base(source: Path, target: Path, copies: int) -> None:
    """Copy the knowledge base once per (fictional) community, with unique ids and the community's own name."""
    for k in range(copies):
        name = _COMMUNITIES[k % len(_COMMUNITIES)] + ("" if k < len(_COMMUNITIES) else str(k))
        for path in iter_knowledge_files(source):
            rel = path.relative_to(source)
            out = target / f"c{k}" / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            text = path.read_text(encoding="utf-8").replace("幸福里", name)
            text = _FAQ_ID.sub(rf"\1-c{k},", text)
            text = _GUIDE_ID.sub(rf"id: \1-c{k}", text)
            out.write_text(text, encoding="utf-8")
        for helper in ("_terms.txt", "_synonyms.txt"):
            if (source / helper).exists():
                shutil.copy(source / helper, target / helper)


def run_benchmark(settings: Settings, *, min_chunks: int, queries_path: Path) -> dict[str, Any]:
    """Build a knowledge base of at least min_chunks chunks in a temporary place and measure it."""
    queries = [q.query for q in load_queries(queries_path)]
    with tempfile.TemporaryDirectory(prefix="bot-bench-") as tmp:
        root = Path(tmp)
        bench_settings = settings.model_copy(update={"data_dir": root / "data", "vector_store": "embedded"})
        probe = build_application(bench_settings, state_dir=root / "probe")
        base_chunks = probe.ingestor.ingest(settings.knowledge_dir).chunks_total
        copies = max(1, -(-min_chunks // max(base_chunks, 1)))
        synthesize_knowledge_base(settings.knowledge_dir, root / "kb", copies)

        knowledge = build_application(bench_settings, embeddings=probe.embeddings)
        started = time.perf_counter()
        report = knowledge.ingestor.ingest(root / "kb")
        ingest_seconds = time.perf_counter() - started
        started = time.perf_counter()
        knowledge.ingestor.ingest(root / "kb")
        reingest_seconds = time.perf_counter() - started

        knowledge.assistant.prepare()
        for n, question in enumerate(queries[:20]):
            knowledge.assistant.reply(Question(question, "bench", f"warm-up-{n}"))
        latencies = []
        # The whole reply path `ask` takes (guards, retrieval, decision, composition), one resident per question.
        for n, question in enumerate(queries):
            started = time.perf_counter()
            knowledge.assistant.reply(Question(question, "bench", f"resident-{n}"))
            latencies.append((time.perf_counter() - started) * 1000)

        cold_start, cold_rss = _cold_start(root, queries[0])
        calibration_seconds = report.calibration.seconds if report.calibration else 0.0
    return {
        "chunks": report.chunks_total,
        "files": report.files_total,
        "failed_files": len(report.failures),
        "ingest_seconds": round(ingest_seconds, 2),
        # Part of ingest_seconds: the answer decision calibrated on the new index
        "calibration_seconds": calibration_seconds,
        "ingest_chunks_per_s": round(report.chunks_embedded / (ingest_seconds - calibration_seconds), 1),
        "reingest_unchanged_seconds": round(reingest_seconds, 2),
        "queries": len(latencies),
        "reply_p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "reply_p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "cold_start_to_first_answer_s": round(cold_start, 2),
        "peak_rss_mb_serving": cold_rss,
        "peak_rss_mb_bench": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _cold_start(root: Path, question: str) -> tuple[float, float]:
    """Wall time of a fresh `python -m bot ask` over the built index, and that process's peak RSS."""
    env = {**os.environ, "BOT_DATA_DIR": str(root / "data"), "BOT_VECTOR_STORE": "embedded"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot", "ask", question], env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    return seconds, round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
