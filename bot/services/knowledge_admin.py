"""The knowledge base as staff manage it: its files, uploads, and re-ingestion with progress."""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from bot.domain.errors import AssistantError, KnowledgeBusyError
from bot.domain.knowledge import EntryKind, IngestReport, KnowledgeEntry
from bot.domain.staff import StaffUser
from bot.ports import Clock
from bot.rag.ingestion import KnowledgeIngestor
from bot.rag.loaders import (
    SUPPORTED_SUFFIXES,
    KnowledgeFileError,
    decode_text,
    faq_columns,
    load_knowledge_base,
    load_knowledge_file,
    write_knowledge_file,
)
from bot.services.assistant import ResidentAssistant

_KIND_LABELS = {EntryKind.FAQ: "问答表", EntryKind.GUIDE: "办事指南", EntryKind.DOCUMENT: "文档"}
_UNSAFE_NAME = re.compile(r"[\\/:*?\"<>|\x00-\x1f]")
# Well below what file systems allow (255 bytes, about 85 Chinese characters), with room for the folder.
MAX_FILE_NAME_CHARS = 120


class UploadError(AssistantError):
    """An uploaded file that is not taken; the message says why, in Chinese."""


class UploadForbiddenError(UploadError):
    """An upload that would change another community's knowledge; the message says whose, in Chinese."""


@dataclass(frozen=True, slots=True)
class KnowledgeFile:
    """One file of the knowledge base as the console lists it."""

    path: str
    kind: str
    entries: int
    size_bytes: int
    modified: datetime
    problem: str


@dataclass(frozen=True, slots=True)
class ReindexStatus:
    """Where the latest re-ingestion stands: running with progress, or its outcome."""

    running: bool = False
    done: int = 0
    total: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    summary: str = ""
    failures: tuple[str, ...] = ()
    error: str = ""

    @property
    def percent(self) -> int:
        """Progress of the embedding step, 0-100."""
        if self.total:
            return int(100 * self.done / self.total)
        return 100 if self.finished_at is not None and not self.running else 0


class KnowledgeMaintenance:
    """Re-indexes one at a time (chat, console and staff group share this lock) and keeps the latest progress."""

    def __init__(
        self,
        knowledge_dir: Path,
        ingestor: KnowledgeIngestor,
        assistant: ResidentAssistant,
        clock: Clock,
        *,
        upload_max_bytes: int = 20 * 1024 * 1024,
        reindex_timeout_s: float = 600.0,
        edit_wait_s: float = 30.0,
    ) -> None:
        self._root = knowledge_dir
        self._ingestor = ingestor
        self._assistant = assistant
        self._clock = clock
        self._upload_max_bytes = upload_max_bytes
        self._reindex_timeout = timedelta(seconds=reindex_timeout_s)
        self._edit_wait_s = edit_wait_s
        self._lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._status = ReindexStatus()
        self._cancel = threading.Event()

    @property
    def upload_limit(self) -> int:
        """The largest file accepted, in bytes."""
        return self._upload_max_bytes

    def reindex(self) -> IngestReport:
        """Bring the index in line with the files now (incremental), then reload the reply path's lexicon.

        Waits a bounded time for a re-index already running (KnowledgeBusyError after it); stops, keeping the
        previous index, when cancelled or when it runs past its time limit.
        """
        with self.editing() as reindex:
            return reindex()

    @contextmanager
    def editing(self) -> Iterator[Callable[[], IngestReport]]:
        """Hold the knowledge base for one change of its files: yields the re-index to run once they are written.

        A re-index already running is waited for a bounded time, then KnowledgeBusyError says so, nothing changed.
        """
        if not self._lock.acquire(timeout=self._edit_wait_s):
            raise KnowledgeBusyError(f"知识库正在重新导入，等了 {self._edit_wait_s:.0f} 秒还没有结束，请稍后再试")
        try:
            yield self._reindex_holding_lock
        finally:
            self._lock.release()

    def start_reindex(self) -> bool:
        """Re-index in the background; False if a re-index is already running."""
        if self._lock.locked():
            return False
        threading.Thread(target=self._reindex_quietly, name="reindex", daemon=True).start()
        return True

    def cancel_reindex(self) -> bool:
        """Ask a running re-index to stop (the previous index keeps serving); False if none is running."""
        if not self.status().running:
            return False
        self._cancel.set()
        return True

    def _reindex_holding_lock(self) -> IngestReport:
        started = self._clock.now()
        self._cancel.clear()
        self._set(ReindexStatus(running=True, started_at=started))
        limit = self._reindex_timeout.total_seconds()

        def stop_reason() -> str:
            if self._cancel.is_set():
                return "重新导入已取消，知识库仍使用上一次导入的内容"
            if self._clock.now() - started > self._reindex_timeout:
                return (
                    f"重新导入超过 {limit:.0f} 秒（BOT_REINDEX_TIMEOUT_S）还没有完成，已停止，"
                    "知识库仍使用上一次导入的内容"
                )
            return ""

        try:
            report = self._ingestor.ingest(self._root, progress=self._progress, stop=stop_reason)
            self._assistant.prepare()
        except Exception as exc:
            self._set(replace(self._status, running=False, finished_at=self._clock.now(), error=str(exc)[:300]))
            raise
        self._set(
            replace(
                self._status,
                running=False,
                finished_at=self._clock.now(),
                summary=_summary(report),
                failures=tuple(f"{f.file}：{f.reason}" for f in report.failures),
            )
        )
        return report

    def status(self) -> ReindexStatus:
        """The latest re-index's progress or outcome."""
        with self._state_lock:
            return self._status

    def files(self) -> list[KnowledgeFile]:
        """Every file ingestion reads, with its entry count or the reason it cannot be read."""
        listed: list[KnowledgeFile] = []
        for loaded in load_knowledge_base(self._root):
            stat = loaded.path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, tz=self._clock.now().tzinfo)
            kind = _KIND_LABELS[loaded.entries[0].kind] if loaded.entries else loaded.path.suffix.lstrip(".").upper()
            listed.append(
                KnowledgeFile(loaded.relative, kind, len(loaded.entries), stat.st_size, modified, loaded.problem)
            )
        return listed

    def titles(self) -> dict[str, str]:
        """Entry id → title, for every entry of the knowledge base (to name the entries answers cite)."""
        return {entry.id: entry.title for loaded in load_knowledge_base(self._root) for entry in loaded.entries}

    def upload(self, filename: str, data: bytes, uploader: StaffUser) -> tuple[str, bool]:
        """Check and store an uploaded file (replacing one of the same name); its path and whether it replaced one.

        The uploader may replace only a file whose entries they may edit, and may store only entries they may
        edit (StaffUser.sees_knowledge, the rule of the FAQ editor). A cadre's entries that name no community get
        theirs, unless the upload replaces a shared file (one whose entries name none), which stays shared.
        """
        name = Path(filename.replace("\\", "/")).name.strip()
        suffix = Path(name).suffix.lower()
        if not name or _UNSAFE_NAME.search(name) or name.startswith((".", "_", "~$")):
            raise UploadError('文件名不能以 . 或 _ 开头，也不能含有 \\ / : * ? " < > | 等字符')
        if len(name) > MAX_FILE_NAME_CHARS:
            raise UploadError(f"文件名太长（最多 {MAX_FILE_NAME_CHARS} 个字），请改短后再上传")
        if suffix not in SUPPORTED_SUFFIXES:
            raise UploadError(f"不支持 {suffix or '无扩展名'} 文件，可上传：{'、'.join(SUPPORTED_SUFFIXES)}")
        if len(data) > self._upload_max_bytes:
            raise UploadError(f"文件太大（最多 {self._upload_max_bytes // (1024 * 1024)} MB）")
        folder = "faq" if suffix in {".csv", ".xlsx"} else "guides" if suffix in {".md", ".markdown"} else "docs"
        relative = f"{folder}/{name}"
        target = self._root / relative
        replaced = target.exists()
        stored = self._replaceable(uploader, target, relative) if replaced else []
        community = uploader.community_scope
        if community and not (replaced and all(not entry.community for entry in stored)):
            data = _claimed_for(community, suffix, data)
        entries = self._trial(name, relative, data)
        foreign = _foreign_community(uploader, entries)
        if foreign is not None:
            raise UploadForbiddenError(f"{name} 里有属于其他社区（{foreign}）的条目，您只能上传本社区的内容")
        write_knowledge_file(target, data)
        return relative, replaced

    def _trial(self, name: str, relative: str, data: bytes) -> list[KnowledgeEntry]:
        """Parse an upload in a scratch directory: its entries, or UploadError with the reason."""
        with tempfile.TemporaryDirectory(prefix="upload-") as scratch:
            trial = Path(scratch) / name
            trial.write_bytes(data)
            try:
                return load_knowledge_file(trial, relative)
            except KnowledgeFileError as exc:
                raise UploadError(f"{name} 无法导入：{exc}") from None

    def _replaceable(self, uploader: StaffUser, target: Path, relative: str) -> list[KnowledgeEntry]:
        """The stored file's entries, if the uploader may edit every one of them; UploadForbiddenError if not."""
        try:
            stored = load_knowledge_file(target, relative)
        except KnowledgeFileError:
            if uploader.community_scope is None:
                return []
            raise UploadForbiddenError(
                f"现有的 {relative} 无法读取，不能确认它属于哪个社区，请联系管理员替换"
            ) from None
        foreign = _foreign_community(uploader, stored)
        if foreign is not None:
            raise UploadForbiddenError(f"现有的 {relative} 属于其他社区（{foreign}），不能替换")
        return stored

    def _reindex_quietly(self) -> None:
        try:
            self.reindex()
        except Exception:  # the status carries the error for the console; nothing else waits on this thread
            return

    def _progress(self, done: int, total: int) -> None:
        self._set(replace(self._status, done=done, total=total))

    def _set(self, status: ReindexStatus) -> None:
        with self._state_lock:
            self._status = status


def _foreign_community(uploader: StaffUser, entries: list[KnowledgeEntry]) -> str | None:
    """The first community among entries that the uploader may not edit (the FAQ editor's rule), if any."""
    return next((e.community for e in entries if not uploader.sees_knowledge(e.community)), None)


def _claimed_for(community: str, suffix: str, data: bytes) -> bytes:
    """A cadre's upload with their community written into every FAQ row and guide that names none.

    Only CSV tables and Markdown guides carry it this way; other files are returned as they are (the trial parse
    decides whether they read).
    """
    if suffix == ".csv":
        return _claimed_table(community, data)
    if suffix in {".md", ".markdown"}:
        return _claimed_guide(community, data)
    return data


def _claimed_table(community: str, data: bytes) -> bytes:
    try:
        rows = list(csv.reader(io.StringIO(decode_text(data), newline="")))
    except (KnowledgeFileError, csv.Error):
        return data  # the trial parse gives the reason
    first = next((number for number, row in enumerate(rows) if any(cell.strip() for cell in row)), None)
    if first is None:
        return data
    header = faq_columns(rows[first])
    if "community" not in header:
        header.append("community")
        rows[first].append("community")
    column = header.index("community")
    for row in rows[first + 1 :]:
        if not any(cell.strip() for cell in row):
            continue
        row.extend([""] * (column + 1 - len(row)))
        if not row[column].strip():
            row[column] = community
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8")


def _claimed_guide(community: str, data: bytes) -> bytes:
    try:
        text = decode_text(data)
    except KnowledgeFileError:
        return data
    newline = "\r\n" if text.startswith("---\r\n") else "\n"
    opening = f"---{newline}"
    end = text.find(f"{newline}---", len(opening))
    if not text.startswith(opening) or end < 0:
        return data  # no front matter: a document, which has no community
    if re.search(r"^community\s*:", text[len(opening) : end], flags=re.MULTILINE):
        return data
    # A JSON string is a YAML double-quoted scalar: the community's name is written exactly, whatever it holds.
    line = f"community: {json.dumps(community, ensure_ascii=False)}{newline}"
    return (opening + line + text[len(opening) :]).encode("utf-8")


def _summary(report: IngestReport) -> str:
    changed = len(report.files_added) + len(report.files_updated) + len(report.files_removed)
    return (
        f"共 {report.files_total} 个文件，变动 {changed} 个，失败 {len(report.failures)} 个；"
        f"索引 {report.chunks_total} 块，本次嵌入 {report.chunks_embedded} 块，用时 {report.seconds:.1f} 秒"
    )
