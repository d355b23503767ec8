"""The knowledge base as staff manage it: its files, uploads, and re-ingestion with progress."""

from __future__ import annotations

import re
import tempfile
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bot.domain.knowledge import EntryKind, IngestReport
from bot.ports import Clock
from bot.rag.ingestion import KnowledgeIngestor
from bot.rag.loaders import (
    SUPPORTED_SUFFIXES,
    KnowledgeFileError,
    load_knowledge_base,
    load_knowledge_file,
    write_knowledge_file,
)
from bot.services.assistant import ResidentAssistant

_KIND_LABELS = {EntryKind.FAQ: "问答表", EntryKind.GUIDE: "办事指南", EntryKind.DOCUMENT: "文档"}
_UNSAFE_NAME = re.compile(r"[\\/:*?\"<>|\x00-\x1f]")
# Well below what file systems allow (255 bytes, about 85 Chinese characters), with room for the folder.
MAX_FILE_NAME_CHARS = 120


class UploadError(ValueError):
    """An uploaded file that is not taken; the message says why, in Chinese."""


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
    ) -> None:
        self._root = knowledge_dir
        self._ingestor = ingestor
        self._assistant = assistant
        self._clock = clock
        self._upload_max_bytes = upload_max_bytes
        self._lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._status = ReindexStatus()

    @property
    def upload_limit(self) -> int:
        """The largest file accepted, in bytes."""
        return self._upload_max_bytes

    def reindex(self) -> IngestReport:
        """Bring the index in line with the files now (incremental), then reload the reply path's lexicon."""
        with self._lock:
            self._set(ReindexStatus(running=True, started_at=self._clock.now()))
            try:
                report = self._ingestor.ingest(self._root, progress=self._progress)
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

    def start_reindex(self) -> bool:
        """Re-index in the background; False if a re-index is already running."""
        if self._lock.locked():
            return False
        threading.Thread(target=self._reindex_quietly, name="reindex", daemon=True).start()
        return True

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

    def upload(self, filename: str, data: bytes) -> tuple[str, bool]:
        """Check and store an uploaded file (replacing one of the same name); its path and whether it replaced one."""
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
        with tempfile.TemporaryDirectory(prefix="upload-") as scratch:
            trial = Path(scratch) / name
            trial.write_bytes(data)
            try:
                load_knowledge_file(trial, relative)
            except KnowledgeFileError as exc:
                raise UploadError(f"{name} 无法导入：{exc}") from None
        target = self._root / relative
        replaced = target.exists()
        write_knowledge_file(target, data)
        return relative, replaced

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


def _summary(report: IngestReport) -> str:
    changed = len(report.files_added) + len(report.files_updated) + len(report.files_removed)
    return (
        f"共 {report.files_total} 个文件，变动 {changed} 个，失败 {len(report.failures)} 个；"
        f"索引 {report.chunks_total} 块，本次嵌入 {report.chunks_embedded} 块，用时 {report.seconds:.1f} 秒"
    )
