"""Measuring a knowledge base: run labelled queries through the real answering path and score the outcome."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.domain.conversation import Question, Reply
from bot.domain.errors import AssistantError
from bot.services.answering import AnsweringService, confidence
from bot.services.assistant import ResidentAssistant


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
    # Of the answerable questions refused, the share whose entry was among the numbered choices offered
    choice_rescue_rate: float = 0.0

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(asdict(self), ensure_ascii=False)


class QueryFileError(AssistantError):
    """The query file is malformed; the message names the line."""


def load_queries(path: Path) -> list[LabelledQuery]:
    """Read a JSONL query file: {"query": "...", "expected_id": "<id>" | null}."""
    queries = [_labelled(row, f"{path.name} 第 {number} 行") for number, row in jsonl_rows(path)]
    if not queries:
        raise QueryFileError(f"{path.name} 里没有查询")
    return queries


def jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) for every non-blank line."""
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise QueryFileError(f"{path.name} 第 {number} 行不是合法的 JSON：{exc.msg}") from None


def _labelled(row: Any, where: str) -> LabelledQuery:
    """One {"query", "expected_id"} object, validated."""
    if not isinstance(row, dict) or not isinstance(row.get("query"), str) or "expected_id" not in row:
        raise QueryFileError(f"{where}缺少 query 或 expected_id")
    expected = row["expected_id"]
    if expected is not None and not isinstance(expected, str):
        raise QueryFileError(f"{where}的 expected_id 应为字符串或 null")
    return LabelledQuery(row["query"], expected, str(row.get("style", "")))


def score_replies(queries: Sequence[LabelledQuery], replies: Sequence[Reply], *, threshold: float) -> EvalMetrics:
    """Hit@k and MRR over answerable queries; correct/wrong/refused over all, from the real reply decision."""
    answerable = [(q, r) for q, r in zip(queries, replies, strict=True) if q.expected_id is not None]
    ranks = [_rank(q.expected_id, r) for q, r in answerable]
    correct = wrong = refused = refused_answerable = rescued = 0
    for q, r in zip(queries, replies, strict=True):
        if not r.answered:
            refused += 1
            correct += q.expected_id is None
            if q.expected_id is not None:
                refused_answerable += 1
                rescued += any(c.entry_id == q.expected_id for c in (r.primary.choices if r.primary else ()))
        elif handled_right(q.expected_id, r):
            correct += 1
        else:
            wrong += 1
    latencies = np.array([r.latency_ms for r in replies], dtype=np.float64)
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
        choice_rescue_rate=_ratio(rescued, refused_answerable),
    )


def handled_right(expected_id: str | None, reply: Reply) -> bool:
    """Answered with the expected entry, or not answered when nothing should be."""
    if not reply.answered:
        return expected_id is None
    top = reply.primary.top if reply.primary else None
    return top is not None and top.entry_id == expected_id


def misses(queries: Iterable[LabelledQuery], replies: Iterable[Reply]) -> list[str]:
    """One line per query handled wrongly, for reading what to fix in the knowledge base."""
    lines = []
    for q, r in zip(queries, replies, strict=True):
        if handled_right(q.expected_id, r):
            continue
        top = r.primary.top if r.primary else None
        got = top.entry_id if r.answered and top else f"（未答：{r.reason}）"
        lines.append(f"{r.score:.3f}  期望 {q.expected_id or '（拒答）'}  得到 {got}  ← {q.query}")
    return lines


def _rank(expected: str | None, reply: Reply) -> int:
    hits = reply.primary.hits if reply.primary else []
    for position, hit in enumerate(hits, start=1):
        if hit.entry_id == expected:
            return position
    return 0


@dataclass(frozen=True, slots=True)
class Conversation:
    """A labelled two-turn conversation: only the last turn is scored."""

    turns: tuple[LabelledQuery, ...]
    kind: str = ""


def load_conversations(path: Path) -> list[Conversation]:
    """Read a JSONL file of {"turns": [{"query", "expected_id"}, …], "kind": "…"}."""
    conversations: list[Conversation] = []
    for number, row in jsonl_rows(path):
        where = f"{path.name} 第 {number} 行"
        turns = row.get("turns") if isinstance(row, dict) else None
        if not isinstance(turns, list) or len(turns) < 2:
            raise QueryFileError(f"{where}应有 turns，且至少两轮")
        conversations.append(Conversation(tuple(_labelled(t, where) for t in turns), str(row.get("kind", ""))))
    return conversations


def score_conversations(conversations: Sequence[Conversation], last_replies: Sequence[Reply]) -> dict[str, object]:
    """Share of conversations whose last turn was handled right, overall and per kind."""
    right = [handled_right(c.turns[-1].expected_id, r) for c, r in zip(conversations, last_replies, strict=True)]
    by_kind = {
        kind: _ratio(
            sum(ok for c, ok in zip(conversations, right, strict=True) if c.kind == kind),
            sum(c.kind == kind for c in conversations),
        )
        for kind in sorted({c.kind for c in conversations if c.kind})
    }
    return {
        "conversations": len(conversations),
        "followup_correct_rate": _ratio(sum(right), len(right)),
        "followup_by_kind": by_kind,
    }


def _ratio(part: float, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What one evaluation run found: the figures (the JSON line printed last) and the queries it got wrong."""

    figures: dict[str, object]
    miss_lines: list[str]


def evaluate(
    assistant: ResidentAssistant,
    queries: Sequence[LabelledQuery],
    conversation_sets: Mapping[str, Sequence[Conversation]] | None = None,
    *,
    threshold: float,
) -> Evaluation:
    """Run every query (each from a different resident, so no follow-up context carries over) and every two-turn
    conversation of each named set through the reply path, and score them. One set's figures sit beside the queries';
    several sets' under "conversation_sets", by name."""
    assistant.reply(Question(queries[0].query, "eval", "warm-up"))  # latency figures are steady-state
    replies = [assistant.reply(Question(q.query, "eval", f"q{n}")) for n, q in enumerate(queries)]
    figures: dict[str, object] = json.loads(score_replies(queries, replies, threshold=threshold).to_json())
    miss_lines = misses(queries, replies)
    per_set: dict[str, dict[str, object]] = {}
    for name, conversations in (conversation_sets or {}).items():
        last_replies: list[Reply] = []
        for n, conversation in enumerate(conversations):
            user = f"{name}:c{n}"  # each conversation its own resident: no context carries over between them
            replied = [assistant.reply(Question(turn.query, "eval", user)) for turn in conversation.turns]
            last_replies.append(replied[-1])
        for conversation, reply in zip(conversations, last_replies, strict=True):
            miss_lines += [
                f"[对话 {conversation.kind}] {conversation.turns[0].query} → {line}"
                for line in misses(conversation.turns[-1:], [reply])
            ]
        per_set[name] = score_conversations(conversations, last_replies)
    if len(per_set) == 1:
        figures.update(next(iter(per_set.values())))
    elif per_set:
        figures["conversation_sets"] = per_set
    return Evaluation(figures, miss_lines)


def sweep(answering: AnsweringService, labelled: Sequence[LabelledQuery]) -> Iterator[str]:
    """Metrics over a grid of margin weights, agreement bonuses and refusal thresholds, one line each (a tuning aid).

    answering should refuse nothing (threshold 0): retrieval runs once, only the decision varies."""
    yield "margin_weight agreement_bonus threshold hit@1 hit@3 mrr correct wrong refused"
    raw = [answering.answer(q.query) for q in labelled]
    for margin_weight in (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0):
        for agreement_bonus in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
            scores = [confidence(a.hits, margin_weight, agreement_bonus) for a in raw]
            for t in range(40, 301, 5):
                threshold = t / 100
                decided = [
                    Reply(a.text, a.answered and score >= threshold, a.reason, (a,), a.latency_ms)
                    for a, score in zip(raw, scores, strict=True)
                ]
                m = score_replies(labelled, decided, threshold=threshold)
                yield (
                    f"{margin_weight:.1f} {agreement_bonus:.1f} {threshold:.2f} {m.hit_at_1:.3f} {m.hit_at_3:.3f} "
                    f"{m.mrr:.3f} {m.correct_rate:.3f} {m.wrong_answer_rate:.3f} {m.refused_rate:.3f}"
                )
