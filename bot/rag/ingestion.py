"""Incremental ingestion: hash every knowledge file, re-embed only what changed, write the index as a whole."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from langchain_core.embeddings import Embeddings

from bot.domain.errors import AssistantError
from bot.domain.knowledge import Calibration, Chunk, EntryKind, FileFailure, IngestReport, KnowledgeEntry
from bot.rag.chunking import chunk_entry
from bot.rag.embeddings import embed_array
from bot.rag.index import KnowledgeIndex, StoredChunk
from bot.rag.lexical import Lexicon, title_terms
from bot.rag.loaders import KnowledgeFileError, iter_knowledge_files, load_knowledge_file

# Bump when parsing or chunking changes what a file turns into, so every file is re-read once.
PIPELINE_VERSION = "4"
EMBED_BATCH = 64

ProgressCallback = Callable[[int, int], None]
# Asked between files and between embedding batches: a reason to stop (in Chinese), or "" to go on.
StopCheck = Callable[[], str]


class IngestStoppedError(AssistantError):
    """An ingestion stopped before it wrote anything (cancelled or out of time); the previous index keeps serving."""


class Calibrator(Protocol):
    """Fits the answer decision to the live index (bot.services.calibration.DecisionCalibrator)."""

    def is_current(self, calibration: Calibration | None) -> bool:
        """Whether a stored calibration was made the way this calibrator makes one."""

    def calibrate(self) -> Calibration:
        """Calibrate on the live index."""


@dataclass(frozen=True, slots=True)
class _ParsedFile:
    file: str
    file_hash: str
    entries: list[KnowledgeEntry]


class KnowledgeIngestor:
    """Brings the index in line with a knowledge directory, doing embedding work only for changed files."""

    def __init__(
        self,
        index: KnowledgeIndex,
        embeddings: Embeddings,
        *,
        embedding_id: str,
        chunk_max_chars: int,
        calibrator: Calibrator | None = None,
    ) -> None:
        self._index = index
        self._embeddings = embeddings
        self._embedding_id = embedding_id
        self._chunk_max_chars = chunk_max_chars
        self._calibrator = calibrator

    def ingest(
        self, root: Path, *, progress: ProgressCallback | None = None, stop: StopCheck | None = None
    ) -> IngestReport:
        """Ingest root; broken files are reported and keep their last good version, the rest completes.

        `stop` is asked between files and between embedding batches; a reason from it ends the run with
        IngestStoppedError before the new index is written.
        """
        stop = stop or _never
        started = time.perf_counter()
        report = IngestReport()
        if not root.is_dir():
            raise AssistantError(f"知识库目录不存在：{root}")
        on_disk = {path.relative_to(root).as_posix(): path for path in iter_knowledge_files(root)}
        report.files_total = len(on_disk)
        hashes = {rel: self._hash(path) for rel, path in on_disk.items()}

        pointer = self._index.pointer()
        rebuild = bool(pointer) and pointer.get("embedding") != self._embedding_id
        indexed = {} if rebuild or not pointer else self._index.files()
        report.rebuilt = rebuild

        changed = sorted(rel for rel in on_disk if rel not in indexed or indexed[rel].file_hash != hashes[rel])
        removed = sorted(set(indexed) - set(on_disk))
        unchanged = sorted(set(on_disk) - set(changed))

        parsed: list[_ParsedFile] = []
        failed: set[str] = set()
        for rel in changed:
            _check(stop)
            try:
                parsed.append(_ParsedFile(rel, hashes[rel], load_knowledge_file(on_disk[rel], rel)))
            except KnowledgeFileError as exc:  # the loader turns every way a file fails to parse into this
                report.failures.append(FileFailure(rel, str(exc)))
                failed.add(rel)

        # Entry ids must be unique across the whole knowledge base; files kept as they are claim theirs first.
        kept = [rel for rel in unchanged if rel in indexed] + [rel for rel in sorted(failed) if rel in indexed]
        owner = {entry_id: rel for rel in kept for entry_id in indexed[rel].entry_ids}
        accepted: list[_ParsedFile] = []
        for item in parsed:
            clash = next(((e.id, owner[e.id]) for e in item.entries if e.id in owner), None)
            if clash:
                report.failures.append(FileFailure(item.file, f"编号 {clash[0]} 与文件 {clash[1]} 中的条目重复"))
                failed.add(item.file)
                continue
            owner.update({e.id: item.file for e in item.entries})
            accepted.append(item)
        # A file refused for a clash keeps its last good version, unless that version clashes with an accepted file.
        taken = {e.id for item in accepted for e in item.entries}
        for rel in sorted(failed - set(kept)):
            if rel in indexed and not (indexed[rel].entry_ids & taken):
                kept.append(rel)

        report.files_unchanged = [rel for rel in unchanged if rel in indexed]
        report.files_removed = removed
        for item in accepted:
            (report.files_updated if item.file in indexed else report.files_added).append(item.file)

        if not (accepted or removed or rebuild) and pointer:
            snapshot = self._index.snapshot()
            lexicon = _lexicon(root, snapshot.chunks)
            calibration = snapshot.calibration
            if lexicon != snapshot.lexicon:
                self._index.update_lexicon(lexicon)
                calibration = None
            self._calibrate(report, calibration)
            report.chunks_total = len(snapshot.chunks)
            report.seconds = time.perf_counter() - started
            return report

        new_chunks = [c for item in accepted for e in item.entries for c in chunk_entry(e, self._chunk_max_chars)]
        vectors = self._embed([c.text for c in new_chunks], progress, stop)
        _check(stop)
        file_hash = {item.file: item.file_hash for item in accepted}
        carried = self._index.stored_chunks(set(kept)) if kept else []
        fresh = [StoredChunk(c, file_hash[c.file], v) for c, v in zip(new_chunks, vectors, strict=True)]
        lexicon = _lexicon(root, [s.chunk for s in carried] + new_chunks)
        self._index.write_generation([*carried, *fresh], embedding_id=self._embedding_id, lexicon=lexicon)
        self._calibrate(report, None)
        report.chunks_total = len(carried) + len(fresh)
        report.chunks_embedded = len(fresh)
        report.seconds = time.perf_counter() - started
        return report

    def _calibrate(self, report: IngestReport, stored: Calibration | None) -> None:
        """Calibrate the answer decision on the live index unless the stored calibration still holds for it."""
        if self._calibrator is None:
            return
        if self._calibrator.is_current(stored):
            report.calibration = stored
            return
        report.calibration = self._calibrator.calibrate()
        self._index.store_calibration(report.calibration)

    def _embed(self, texts: list[str], progress: ProgressCallback | None, stop: StopCheck) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            _check(stop)
            vectors.extend(embed_array(self._embeddings, texts[start : start + EMBED_BATCH]).tolist())
            if progress is not None:
                progress(len(vectors), len(texts))
        return vectors

    def _hash(self, path: Path) -> str:
        digest = hashlib.sha256(f"{PIPELINE_VERSION}:{self._chunk_max_chars}:".encode())
        digest.update(path.read_bytes())
        return digest.hexdigest()


def _never() -> str:
    return ""


def _check(stop: StopCheck) -> None:
    reason = stop()
    if reason:
        raise IngestStoppedError(reason)


def _lexicon(root: Path, chunks: list[Chunk] | tuple[Chunk, ...]) -> Lexicon:
    """The staff's term and synonym files plus domain words from guide titles and categories."""
    names = {c.title for c in chunks if c.kind is not EntryKind.FAQ} | {c.category for c in chunks if c.category}
    return Lexicon.from_directory(root, extra_terms=title_terms(sorted(names)))
