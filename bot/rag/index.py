"""The knowledge index in Chroma, written blue/green: a new generation is filled completely, then one pointer flips.

Readers always see a whole generation; a crash or error while ingesting leaves the previous generation serving.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.errors import ChromaError, NotFoundError

from bot.domain.errors import AssistantError
from bot.domain.knowledge import Calibration, Chunk, EntryKind
from bot.local_state import store_problem
from bot.rag.lexical import Lexicon

_BATCH = 1000
_POINTER_SUFFIX = "-pointer"
REBUILD_COMMAND = "python -m bot ingest --rebuild"


class IndexUnavailableError(AssistantError):
    """The Chroma store cannot be read or written; the message names it and what to do (often: rebuild it)."""


def index_problem(location: Path | str, exc: Exception) -> IndexUnavailableError:
    """The Chinese error for a failure of the Chroma store at location (a directory, or a server's host:port)."""
    if isinstance(location, str):
        return IndexUnavailableError(
            f"Chroma 向量库服务 {location} 读写索引时出错；请查看该服务的日志，如果索引已损坏，"
            f"运行 {REBUILD_COMMAND} 重建索引。"
        )
    code = re.search(r"\(code: (\d+)\)", str(exc))  # Chroma passes SQLite's result code on in its message
    damaged = (
        f"向量索引目录 {location.absolute()} 已损坏，无法读取（或由另一个版本的 Chroma 建立）；"
        f"请运行 {REBUILD_COMMAND} 从知识库文件重建索引。"
    )
    sqlite_code = int(code.group(1)) if code else None
    return IndexUnavailableError(store_problem(location, sqlite_code, what="向量索引目录", damaged=damaged))


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """What the index holds for one knowledge file."""

    file: str
    file_hash: str
    entry_ids: frozenset[str]
    chunk_count: int


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk as stored, with its vector (for copying unchanged files into the next generation)."""

    chunk: Chunk
    file_hash: str
    vector: Sequence[float]


@dataclass(frozen=True, slots=True)
class IndexSnapshot:
    """Everything retrieval needs from one generation, read once."""

    generation: str
    embedding_id: str
    lexicon: Lexicon
    chunks: tuple[Chunk, ...]
    calibration: Calibration | None = None


class KnowledgeIndex:
    """Generations of the knowledge collection in one Chroma client, and the pointer naming the live one."""

    def __init__(self, client: Any, name: str, *, location: Path | str) -> None:
        self._client = client
        self._name = name
        self._pointer_name = name + _POINTER_SUFFIX
        self._location = location

    @contextmanager
    def _store(self) -> Iterator[None]:
        """Chroma's errors (a damaged store, a full disk) become IndexUnavailableError, told in Chinese."""
        try:
            yield
        except ChromaError as exc:
            raise index_problem(self._location, exc) from exc

    # ------------------------------------------------------------ reading

    def pointer(self) -> dict[str, Any]:
        """The live generation's name, embedding model and lexicon ({} before the first ingest)."""
        with self._store():
            try:
                collection = self._client.get_collection(self._pointer_name, embedding_function=None)
            except NotFoundError:
                return {}
            return dict(collection.metadata or {})

    def _live(self) -> Any | None:
        generation = self.pointer().get("generation")
        if not generation:
            return None
        with self._store():  # a pointer naming a missing generation is a damaged store too
            return self._client.get_collection(generation, embedding_function=None)

    def files(self) -> dict[str, IndexedFile]:
        """Per-file records of the live generation."""
        records: dict[str, tuple[str, set[str], int]] = {}
        for chunk, file_hash, _ in self._iter_stored(include_vectors=False):
            _, entry_ids, count = records.setdefault(chunk.file, (file_hash, set(), 0))
            entry_ids.add(chunk.entry_id)
            records[chunk.file] = (file_hash, entry_ids, count + 1)
        return {
            file: IndexedFile(file, file_hash, frozenset(ids), count)
            for file, (file_hash, ids, count) in records.items()
        }

    def snapshot(self) -> IndexSnapshot:
        """All chunks of the live generation with the settings it was built with."""
        pointer = self.pointer()
        chunks = tuple(chunk for chunk, _, _ in self._iter_stored(include_vectors=False))
        return IndexSnapshot(
            generation=str(pointer.get("generation", "")),
            embedding_id=str(pointer.get("embedding", "")),
            lexicon=Lexicon.from_json(json.loads(str(pointer.get("lexicon", "{}")))),
            chunks=chunks,
            calibration=stored_calibration(pointer),
        )

    def stored_chunks(self, files: set[str]) -> list[StoredChunk]:
        """Chunks (with vectors) of the given files in the live generation."""
        return [
            StoredChunk(chunk, file_hash, vector)
            for chunk, file_hash, vector in self._iter_stored(include_vectors=True)
            if chunk.file in files
        ]

    def _iter_stored(self, include_vectors: bool) -> Iterator[tuple[Chunk, str, Sequence[float]]]:
        collection = self._live()
        if collection is None:
            return
        include = ["documents", "metadatas", *(["embeddings"] if include_vectors else [])]
        with self._store():
            total = collection.count()
        for offset in range(0, total, _BATCH):
            with self._store():
                page = collection.get(include=include, limit=_BATCH, offset=offset)
            vectors = page.get("embeddings") if include_vectors else None
            for i, chunk_id in enumerate(page["ids"]):
                meta = page["metadatas"][i]
                vector: Sequence[float] = vectors[i] if vectors is not None else ()
                yield _chunk_from(chunk_id, page["documents"][i], meta), str(meta.get("file_hash", "")), vector

    def query(self, vectors: Sequence[Sequence[float]], limit: int) -> dict[str, float]:
        """Nearest chunks to any of the unit query vectors: chunk id -> best cosine similarity."""
        collection = self._live()
        if collection is None or not vectors:
            return {}
        with self._store():
            result = collection.query(
                query_embeddings=[list(v) for v in vectors], n_results=limit, include=["distances"]
            )
        best: dict[str, float] = {}
        for ids, distances in zip(result["ids"], result["distances"], strict=True):
            for chunk_id, distance in zip(ids, distances, strict=True):
                best[chunk_id] = max(best.get(chunk_id, -1.0), 1.0 - float(distance))
        return best

    # ------------------------------------------------------------ writing

    def write_generation(
        self,
        chunks: Sequence[StoredChunk],
        *,
        embedding_id: str,
        lexicon: Lexicon,
    ) -> str:
        """Write a complete new generation, verify it, flip the pointer, then drop older generations."""
        with self._store():
            return self._write_generation(chunks, embedding_id=embedding_id, lexicon=lexicon)

    def _write_generation(self, chunks: Sequence[StoredChunk], *, embedding_id: str, lexicon: Lexicon) -> str:
        previous = self.pointer()
        number = int(previous.get("number", 0)) + 1
        generation = f"{self._name}-g{number}"
        self._drop(generation)  # a leftover from a run that died before its flip
        collection = self._client.create_collection(
            generation, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        for start in range(0, len(chunks), _BATCH):
            batch = chunks[start : start + _BATCH]
            collection.add(
                ids=[s.chunk.chunk_id for s in batch],
                embeddings=np.asarray([s.vector for s in batch], dtype=np.float32),
                documents=[s.chunk.text for s in batch],
                metadatas=[_metadata_of(s.chunk, s.file_hash) for s in batch],
            )
        if collection.count() != len(chunks):
            self._drop(generation)
            raise RuntimeError(f"新索引写入不完整：应有 {len(chunks)} 块，实际 {collection.count()} 块")
        self.set_pointer(generation=generation, number=number, embedding_id=embedding_id, lexicon=lexicon)
        # The previous generation stays one round, so a process still reading it finishes its query.
        self._drop_stale(keep={generation, str(previous.get("generation", ""))})
        return generation

    def set_pointer(
        self,
        *,
        generation: str,
        number: int,
        embedding_id: str,
        lexicon: Lexicon,
        calibration: Calibration | None = None,
    ) -> None:
        """Atomically name the live generation (and store the settings retrieval and the decision need with it)."""
        metadata = {
            "generation": generation,
            "number": number,
            "embedding": embedding_id,
            "lexicon": json.dumps(lexicon.to_json(), ensure_ascii=False),
            "calibration": json.dumps(calibration.to_json() if calibration else None),
        }
        with self._store():
            pointer = self._client.get_or_create_collection(self._pointer_name, embedding_function=None)
            pointer.modify(metadata=metadata)

    def update_lexicon(self, lexicon: Lexicon) -> None:
        """Store a changed lexicon with the live generation (no re-embedding needed; the calibration, made with the
        old lexicon, is dropped until the next one is stored)."""
        pointer = self.pointer()
        self.set_pointer(
            generation=str(pointer["generation"]),
            number=int(pointer["number"]),
            embedding_id=str(pointer["embedding"]),
            lexicon=lexicon,
        )

    def store_calibration(self, calibration: Calibration) -> None:
        """Store the answer decision calibrated on the live generation with it."""
        pointer = self.pointer()
        self.set_pointer(
            generation=str(pointer["generation"]),
            number=int(pointer["number"]),
            embedding_id=str(pointer["embedding"]),
            lexicon=Lexicon.from_json(json.loads(str(pointer.get("lexicon", "{}")))),
            calibration=calibration,
        )

    def discard(self) -> None:
        """Throw the whole index away: the pointer and every generation (the next ingest rebuilds it all)."""
        with self._store():
            self._drop(self._pointer_name)
            self._drop_stale(keep=set())

    def _drop(self, name: str) -> None:
        try:
            self._client.delete_collection(name)
        except NotFoundError:
            return

    def _drop_stale(self, keep: set[str]) -> None:
        prefix = self._name + "-g"
        for collection in self._client.list_collections():
            name = collection if isinstance(collection, str) else collection.name
            if name.startswith(prefix) and name not in keep:
                self._drop(name)


def stored_calibration(pointer: dict[str, Any]) -> Calibration | None:
    """The calibration kept with a generation's pointer (None before the first calibration, or a stale one)."""
    try:
        return Calibration.from_json(json.loads(str(pointer.get("calibration", "null"))))
    except json.JSONDecodeError:
        return None


def _metadata_of(chunk: Chunk, file_hash: str) -> dict[str, str]:
    return {
        "entry_id": chunk.entry_id,
        "kind": chunk.kind.value,
        "title": chunk.title,
        "section": chunk.section,
        "source": chunk.source,
        "updated": chunk.updated,
        "category": chunk.category,
        "file": chunk.file,
        "content": chunk.content,
        "community": chunk.community,
        "file_hash": file_hash,
    }


def _chunk_from(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        entry_id=str(meta["entry_id"]),
        kind=EntryKind(str(meta["kind"])),
        title=str(meta.get("title", "")),
        section=str(meta.get("section", "")),
        source=str(meta.get("source", "")),
        updated=str(meta.get("updated", "")),
        category=str(meta.get("category", "")),
        file=str(meta.get("file", "")),
        text=text,
        content=str(meta.get("content", "")),
        community=str(meta.get("community", "")),
    )
