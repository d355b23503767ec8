"""Measuring a knowledge base: run labelled queries through the real answering path and score the outcome."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bot.domain.errors import AssistantError
from bot.services.answering import Answer


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """One evaluation query and the entry that should answer it (None: the assistant must not answer)."""

    query: str
    expected_id: str | None
    style: str = ""


@dataclass(frozen=True, slots=True)
class EvalMetrics:
    """The figures `python -m bot eval` prints."""

    n: int
    n_answerable: int
    n_unanswerable: int
    hit_at_1: float
    hit_at_3: float
    mrr: float
    correct_rate: float
    wrong_answer_rate: float
    refused_rate: float
    p50_ms: float
    p95_ms: float
    threshold: float

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(asdict(self), ensure_ascii=False)


class QueryFileError(AssistantError):
    """The query file is malformed; the message names the line."""


def load_queries(path: Path) -> list[LabelledQuery]:
    """Read a JSONL query file: {"query": "...", "expected_id": "<id>" | null}."""
    queries: list[LabelledQuery] = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QueryFileError(f"{path.name} 第 {number} 行不是合法的 JSON：{exc.msg}") from None
        if not isinstance(row, dict) or not isinstance(row.get("query"), str) or "expected_id" not in row:
            raise QueryFileError(f"{path.name} 第 {number} 行缺少 query 或 expected_id")
        expected = row["expected_id"]
        if expected is not None and not isinstance(expected, str):
            raise QueryFileError(f"{path.name} 第 {number} 行的 expected_id 应为字符串或 null")
        queries.append(LabelledQuery(row["query"], expected, str(row.get("style", ""))))
    if not queries:
        raise QueryFileError(f"{path.name} 里没有查询")
    return queries


def score_answers(queries: Sequence[LabelledQuery], answers: Sequence[Answer], *, threshold: float) -> EvalMetrics:
    """Hit@k and MRR over answerable queries; correct/wrong/refused over all, from the answering decision."""
    answerable = [(q, a) for q, a in zip(queries, answers, strict=True) if q.expected_id is not None]
    ranks = [_rank(q.expected_id, a) for q, a in answerable]
    correct = wrong = refused = 0
    for q, a in zip(queries, answers, strict=True):
        if not a.answered:
            refused += 1
            correct += q.expected_id is None
        elif a.top is not None and a.top.entry_id == q.expected_id:
            correct += 1
        else:
            wrong += 1
    latencies = np.array([a.latency_ms for a in answers], dtype=np.float64)
    n, n_ans = len(queries), len(answerable)
    return EvalMetrics(
        n=n,
        n_answerable=n_ans,
        n_unanswerable=n - n_ans,
        hit_at_1=_ratio(sum(r == 1 for r in ranks), n_ans),
        hit_at_3=_ratio(sum(0 < r <= 3 for r in ranks), n_ans),
        mrr=_ratio(sum(1 / r for r in ranks if r), n_ans),
        correct_rate=_ratio(correct, n),
        wrong_answer_rate=_ratio(wrong, n),
        refused_rate=_ratio(refused, n),
        p50_ms=round(float(np.percentile(latencies, 50)), 2) if n else 0.0,
        p95_ms=round(float(np.percentile(latencies, 95)), 2) if n else 0.0,
        threshold=threshold,
    )


def misses(queries: Iterable[LabelledQuery], answers: Iterable[Answer]) -> list[str]:
    """One line per query handled wrongly, for reading what to fix in the knowledge base."""
    lines = []
    for q, a in zip(queries, answers, strict=True):
        got = a.top.entry_id if a.answered and a.top else "（拒答）"
        ok = (not a.answered and q.expected_id is None) or (a.answered and a.top and a.top.entry_id == q.expected_id)
        if not ok:
            lines.append(f"{a.score:.3f}  期望 {q.expected_id or '（拒答）'}  得到 {got}  ← {q.query}")
    return lines


def _rank(expected: str | None, answer: Answer) -> int:
    for position, hit in enumerate(answer.hits, start=1):
        if hit.entry_id == expected:
            return position
    return 0


def _ratio(part: float, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
