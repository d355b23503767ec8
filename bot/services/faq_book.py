"""Turning a staff answer into a FAQ entry in the knowledge base files, so the next asker gets it automatically."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from pathlib import Path

from bot.domain.escalation import QuestionStatus, UnansweredQuestion
from bot.ports import Clock

STAFF_FAQ_FILE = Path("faq") / "staff-answers.csv"
HEADER = ("id", "question", "similar_questions", "answer", "category", "source", "updated")


class NotAnsweredError(ValueError):
    """Only an answered question can become a FAQ entry."""


class FaqBook:
    """Appends answered questions to knowledge/faq/staff-answers.csv and re-indexes incrementally."""

    def __init__(self, knowledge_dir: Path, clock: Clock, reindex: Callable[[], None]) -> None:
        self._path = knowledge_dir / STAFF_FAQ_FILE
        self._clock = clock
        self._reindex = reindex
        self._lock = threading.Lock()

    def add(self, question: UnansweredQuestion) -> str:
        """Write the entry (the residents' own wordings as similar questions) and re-index; the entry id."""
        if question.status is not QuestionStatus.ANSWERED or not question.answer:
            raise NotAnsweredError(f"#{question.id} 还没有答复，不能加入知识库")
        entry_id = f"faq-staff-{question.id}"
        wordings = list(dict.fromkeys(a.text.replace("|", " ").strip() for a in question.askers if a.text.strip()))
        title = wordings[0] if wordings else question.question
        row = (
            entry_id,
            title,
            "|".join(w for w in wordings[1:] if w != title),
            question.answer,
            "工作人员答复",
            f"社区工作人员答复（{question.answered_by}）",
            self._clock.now().date().isoformat(),
        )
        with self._lock:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            existing = self._path.read_text(encoding="utf-8-sig") if self._path.exists() else ""
            if f"\n{entry_id}," in f"\n{existing}":
                return entry_id
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            if not existing:
                writer.writerow(HEADER)
            elif not existing.endswith("\n"):
                buffer.write("\n")
            writer.writerow(row)
            with self._path.open("a", encoding="utf-8", newline="") as handle:
                handle.write(buffer.getvalue())
            self._reindex()
        return entry_id
