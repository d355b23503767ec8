"""Writing FAQ entries into the knowledge base's CSV tables (staff answers, console edits), then re-indexing."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.domain.errors import AssistantError, KnowledgeBusyError
from bot.domain.escalation import QuestionStatus, UnansweredQuestion
from bot.domain.knowledge import EntryKind, KnowledgeEntry
from bot.ports import Clock
from bot.rag.loaders import (
    SIMILAR_SEPARATOR,
    decode_text,
    faq_columns,
    load_knowledge_base,
    write_knowledge_file,
)

STAFF_FAQ_FILE = Path("faq") / "staff-answers.csv"
HEADER = ("id", "question", "similar_questions", "answer", "category", "source", "updated", "community")
MAX_QUESTION_CHARS = 200
MAX_ANSWER_CHARS = 2000


class NotAnsweredError(AssistantError):
    """Only an answered question can become a FAQ entry."""


class FaqEditError(AssistantError):
    """A FAQ entry that cannot be written; the message says why, in Chinese."""


@dataclass(frozen=True, slots=True)
class FaqDraft:
    """What staff type for a FAQ entry."""

    question: str
    answer: str
    similar_questions: tuple[str, ...] = ()
    category: str = ""
    source: str = ""
    community: str = ""

    def problem(self) -> str:
        """Why the draft cannot be saved, in Chinese; empty if it can."""
        if not self.question.strip():
            return "问题不能为空"
        if not self.answer.strip():
            return "答案不能为空"
        if len(self.question) > MAX_QUESTION_CHARS:
            return f"问题太长（最多 {MAX_QUESTION_CHARS} 字）"
        if len(self.answer) > MAX_ANSWER_CHARS:
            return f"答案太长（最多 {MAX_ANSWER_CHARS} 字）"
        return ""


# Holds the knowledge base for one change (a bounded wait for a running re-index, KnowledgeBusyError after it) and
# yields the re-index to run once the files are written.
Editing = Callable[[], AbstractContextManager[Callable[[], object]]]


class FaqBook:
    """Adds and edits FAQ entries in the knowledge base's CSV tables and re-indexes incrementally after each write."""

    def __init__(self, knowledge_dir: Path, clock: Clock, editing: Editing) -> None:
        self._root = knowledge_dir
        self._path = knowledge_dir / STAFF_FAQ_FILE
        self._clock = clock
        self._editing = editing
        self._lock = threading.Lock()

    def add(self, question: UnansweredQuestion, *, community: str = "") -> str:
        """Write an answered question as an entry (the residents' own wordings as similar questions); its id."""
        if question.status is not QuestionStatus.ANSWERED or not question.answer:
            raise NotAnsweredError(f"#{question.id} 还没有答复，不能加入知识库")
        wordings = list(dict.fromkeys(a.text.replace(SIMILAR_SEPARATOR, " ").strip() for a in question.askers))
        wordings = [w for w in wordings if w] or [question.question]
        draft = FaqDraft(
            question=wordings[0],
            answer=question.answer,
            similar_questions=tuple(wordings[1:]),
            category="工作人员答复",
            source=f"社区工作人员答复（{question.answered_by}）",
            community=community,
        )
        return self._append(f"faq-staff-{question.id}", draft)

    def create(self, draft: FaqDraft) -> str:
        """A new entry typed by staff in the console; its id."""
        existing = {entry.id for entry in self.entries()}
        number = len(existing) + 1
        while f"faq-staff-n{number}" in existing:
            number += 1
        return self._append(f"faq-staff-n{number}", draft)

    def update(self, entry_id: str, draft: FaqDraft) -> str:
        """Rewrite an existing entry in whichever CSV table holds it; the table's path relative to the base."""
        problem = draft.problem()
        if problem:
            raise FaqEditError(problem)
        with self._holding() as reindex, self._lock:
            path = self._file_of(entry_id)
            raw = path.read_bytes()
            rows = list(csv.reader(io.StringIO(decode_text(raw), newline="")))
            header = faq_columns(rows[0])
            for name in ("updated", "community"):
                if name not in header:
                    header.append(name)
                    rows[0].append(name)
            values = self._values(entry_id, draft)
            for row in rows[1:]:
                if row and row[header.index("id")].strip() == entry_id:
                    row.extend([""] * (len(header) - len(row)))
                    for name, value in values.items():
                        row[header.index(name)] = value
                    break
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(rows)
            encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
            write_knowledge_file(path, buffer.getvalue().encode(encoding))
            reindex()
        return path.relative_to(self._root).as_posix()

    def entries(self) -> list[KnowledgeEntry]:
        """Every FAQ entry in the knowledge base (tables that do not parse are left out)."""
        tables = load_knowledge_base(self._root, suffixes=(".csv", ".xlsx"))
        return [entry for table in tables for entry in table.entries if entry.kind is EntryKind.FAQ]

    def _append(self, entry_id: str, draft: FaqDraft) -> str:
        problem = draft.problem()
        if problem:
            raise FaqEditError(problem)
        with self._holding() as reindex, self._lock:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            existing = self._path.read_text(encoding="utf-8-sig") if self._path.exists() else ""
            rows = list(csv.reader(io.StringIO(existing, newline=""))) if existing else []
            header = faq_columns(rows[0]) if rows else list(HEADER)
            if any(row and row[header.index("id")].strip() == entry_id for row in rows[1:]):
                return entry_id
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            if not rows:
                writer.writerow(HEADER)
            elif not existing.endswith("\n"):
                buffer.write("\n")
            values = self._values(entry_id, draft)
            writer.writerow([values.get(name, "") for name in header])
            with self._path.open("a", encoding="utf-8", newline="") as handle:
                handle.write(buffer.getvalue())
            reindex()
        return entry_id

    @contextmanager
    def _holding(self) -> Iterator[Callable[[], object]]:
        """The knowledge base held for one write; FaqEditError (nothing written) if a re-index keeps it too long."""
        try:
            with self._editing() as reindex:
                yield reindex
        except KnowledgeBusyError as exc:
            raise FaqEditError(f"没有保存：{exc}") from None

    def _values(self, entry_id: str, draft: FaqDraft) -> dict[str, str]:
        similar = [q.replace(SIMILAR_SEPARATOR, " ").strip() for q in draft.similar_questions]
        return {
            "id": entry_id,
            "question": draft.question.strip(),
            "similar_questions": SIMILAR_SEPARATOR.join(q for q in similar if q and q != draft.question.strip()),
            "answer": draft.answer.strip(),
            "category": draft.category.strip(),
            "source": draft.source.strip() or "社区工作人员",
            "updated": self._clock.now().date().isoformat(),
            "community": draft.community.strip(),
        }

    def entry(self, entry_id: str) -> KnowledgeEntry | None:
        """One FAQ entry by its id."""
        return next((entry for entry in self.entries() if entry.id == entry_id), None)

    def _file_of(self, entry_id: str) -> Path:
        entry = self.entry(entry_id)
        if entry is None:
            raise FaqEditError(f"知识库里没有问答 {entry_id}")
        if Path(entry.file).suffix.lower() != ".csv":
            raise FaqEditError(f"{entry.file} 是 Excel 表，请在表格里修改后重新上传")
        return self._root / entry.file
