"""Hybrid retrieval: dense similarity from Chroma fused with jieba-BM25, aggregated per knowledge entry."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from bot.domain.knowledge import Chunk, RetrievalHit
from bot.rag.embeddings import embed_array
from bot.rag.index import IndexSnapshot, KnowledgeIndex
from bot.rag.lexical import BM25Index, ChineseAnalyzer, normalise_text


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """How dense and lexical evidence combine; tuned on the development set."""

    dense: float = 0.5
    dense_candidates: int = 40
    lexical_candidates: int = 40


class IndexNotReadyError(RuntimeError):
    """The knowledge index has not been built yet."""


class _Loaded:
    """One generation of the index prepared for querying (lexical index built, chunk table in memory)."""

    def __init__(self, snapshot: IndexSnapshot, analyzer_factory: Callable[[IndexSnapshot], ChineseAnalyzer]) -> None:
        self.generation = snapshot.generation
        self.chunks: tuple[Chunk, ...] = snapshot.chunks
        self.position = {chunk.chunk_id: i for i, chunk in enumerate(self.chunks)}
        self.analyzer = analyzer_factory(snapshot)
        self.bm25 = BM25Index([self.analyzer.tokens(chunk.text) for chunk in self.chunks])


class HybridRetriever:
    """Finds the knowledge entries that best answer a question; the one retrieval path for chat, ask and eval."""

    def __init__(
        self,
        index: KnowledgeIndex,
        embeddings: Embeddings,
        *,
        embedding_id: str,
        weights: FusionWeights,
        cache_dir: Path | None = None,
    ) -> None:
        self._index = index
        self._embeddings = embeddings
        self._embedding_id = embedding_id
        self._weights = weights
        self._cache_dir = cache_dir
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def reload(self) -> None:
        """Read the live generation of the index again (after an ingest)."""
        snapshot = self._index.snapshot()
        if not snapshot.generation:
            raise IndexNotReadyError("知识库索引还没有建立，请先运行：python -m bot ingest")
        if snapshot.embedding_id != self._embedding_id:
            raise IndexNotReadyError(
                f"索引是用 {snapshot.embedding_id} 建立的，当前设置为 {self._embedding_id}；"
                "请重新运行 python -m bot ingest"
            )
        loaded = _Loaded(snapshot, lambda s: ChineseAnalyzer(s.lexicon, cache_dir=self._cache_dir))
        with self._lock:
            self._loaded = loaded

    def _current(self) -> _Loaded:
        if self._loaded is None:
            self.reload()
        assert self._loaded is not None
        return self._loaded

    def retrieve(self, question: str, top_k: int = 5) -> list[RetrievalHit]:
        """The top_k entries for a question, best first, each with its best-matching chunk and scores."""
        loaded = self._current()
        text = normalise_text(question)
        if not text or not loaded.chunks:
            return []
        vector = embed_array(self._embeddings, [text])[0]
        dense = dict(self._index.query(vector.tolist(), min(self._weights.dense_candidates, len(loaded.chunks))))
        lexical = loaded.bm25.scores(loaded.analyzer.tokens(text))
        top_lexical = np.argsort(-lexical)[: self._weights.lexical_candidates]
        candidates = {loaded.position[cid] for cid in dense if cid in loaded.position}
        candidates.update(int(i) for i in top_lexical if lexical[i] > 0)
        # A chunk outside the dense candidates scores no better than the weakest dense candidate.
        dense_floor = min(dense.values()) if dense else 0.0
        w = self._weights.dense
        best: dict[str, RetrievalHit] = {}
        for i in candidates:
            chunk = loaded.chunks[i]
            d = dense.get(chunk.chunk_id, dense_floor)
            score = w * d + (1 - w) * float(lexical[i])
            current = best.get(chunk.entry_id)
            if current is None or score > current.score:
                best[chunk.entry_id] = _hit(chunk, score, d, float(lexical[i]))
        return sorted(best.values(), key=lambda hit: hit.score, reverse=True)[:top_k]


def _hit(chunk: Chunk, score: float, dense: float, lexical: float) -> RetrievalHit:
    return RetrievalHit(
        entry_id=chunk.entry_id,
        kind=chunk.kind,
        title=chunk.title,
        section=chunk.section,
        source=chunk.source,
        updated=chunk.updated,
        matched_text=chunk.text,
        content=chunk.content,
        score=round(score, 4),
        dense_score=round(dense, 4),
        lexical_score=round(lexical, 4),
        chunk_id=chunk.chunk_id,
    )
