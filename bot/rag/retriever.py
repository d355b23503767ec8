"""Hybrid retrieval: dense similarity from Chroma fused with jieba-BM25, aggregated per knowledge entry."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from bot.domain.errors import AssistantError
from bot.domain.knowledge import Calibration, Chunk, EntryKind, RetrievalHit
from bot.rag.chunking import OVERVIEW_SECTION
from bot.rag.embeddings import embed_array
from bot.rag.index import IndexSnapshot, KnowledgeIndex
from bot.rag.lexical import BIGRAM_MARK, STOPWORDS, BM25Index, ChineseAnalyzer, normalise_text
from bot.rag.typos import HomophoneCorrector

_QUERY_PART_SPLIT = re.compile(r"[。！？!?；;，,、\s]+")
_OVERVIEW_CUES = tuple(
    line.strip()
    for line in (Path(__file__).parent / "resources" / "overview_cues.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """How dense and lexical evidence combine (tuned on the development set; the defaults live in Settings)."""

    dense: float
    second_chunk: float
    overview_bonus: float
    sibling_lexical: float = 0.0
    long_question_chars: int = 0
    dense_candidates: int = 40
    lexical_candidates: int = 40
    max_query_parts: int = 6


class IndexNotReadyError(AssistantError):
    """The knowledge index has not been built yet."""


def query_parts(text: str, limit: int) -> list[str]:
    """The whole question and its clauses: residents bury the question at the end of a long story."""
    parts = [p for p in _QUERY_PART_SPLIT.split(text) if len(p) >= 2]
    return [text, *parts[-limit:]] if len(parts) > 1 else [text]


class QuestionVectors:
    """The unit vectors of a question's parts (the whole question and its clauses, `query_parts`), embedded in one
    batch and kept for the last `capacity` questions: a resident's message is embedded once although the petition
    recogniser (the whole question's vector, `of`) and retrieval (every part's) both read it. Only the exact same
    parts are shared, so each reads what it would have computed alone."""

    def __init__(self, embeddings: Embeddings, max_parts: int, capacity: int = 64) -> None:
        self._embeddings = embeddings
        self._max_parts = max_parts
        self._capacity = capacity
        self._kept: OrderedDict[tuple[str, ...], np.ndarray[Any, np.dtype[np.float32]]] = OrderedDict()
        self._lock = threading.Lock()

    def parts(self, text: str) -> list[str]:
        """The parts of a normalised question that are embedded."""
        return query_parts(text, self._max_parts)

    def of_parts(self, parts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The parts' unit vectors, one row each (embedded now, or kept from the last time)."""
        key = tuple(parts)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return kept
        vectors = embed_array(self._embeddings, parts)
        vectors.flags.writeable = False  # shared between callers
        with self._lock:
            self._kept[key] = vectors
            while len(self._kept) > self._capacity:
                self._kept.popitem(last=False)
        return vectors

    def embed_ahead(self, texts: list[str]) -> None:
        """Embed several questions' parts in one batch and keep them for `of_parts` (calibration asks hundreds of
        questions; one batch costs about a tenth of embedding them one by one). Keeps at most `capacity` of them."""
        keys = list(dict.fromkeys(tuple(self.parts(text)) for text in texts if text))[: self._capacity]
        vectors = embed_array(self._embeddings, [part for key in keys for part in key])
        offset = 0
        with self._lock:
            for key in keys:
                kept = vectors[offset : offset + len(key)].copy()
                kept.flags.writeable = False
                offset += len(key)
                self._kept[key] = kept
                self._kept.move_to_end(key)
            while len(self._kept) > self._capacity:
                self._kept.popitem(last=False)

    def of(self, text: str) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The vector of a normalised question, as retrieval embeds it (in one batch with its clauses)."""
        vector: np.ndarray[Any, np.dtype[np.float32]] = self.of_parts(self.parts(text))[0]
        return vector


class _Loaded:
    """One generation of the index prepared for querying: chunk table, analyzer and both BM25 indexes."""

    def __init__(self, snapshot: IndexSnapshot, analyzer_factory: Callable[[IndexSnapshot], ChineseAnalyzer]) -> None:
        self.generation = snapshot.generation
        self.calibration = snapshot.calibration
        self.chunks: tuple[Chunk, ...] = snapshot.chunks
        self.position = {chunk.chunk_id: i for i, chunk in enumerate(self.chunks)}
        self.analyzer = analyzer_factory(snapshot)
        tokens = [self.analyzer.tokens(chunk.text) for chunk in self.chunks]
        # Lexical evidence is scored per entry (a FAQ's phrasings and answer, a guide's sections together): the
        # words a resident uses are often spread over several chunks of the right entry. Dense evidence then
        # picks the chunk.
        entry_ids = sorted({c.entry_id for c in self.chunks})
        entry_number = {entry_id: n for n, entry_id in enumerate(entry_ids)}
        entry_tokens: list[list[str]] = [[] for _ in entry_ids]
        for chunk, chunk_tokens in zip(self.chunks, tokens, strict=True):
            entry_tokens[entry_number[chunk.entry_id]].extend(chunk_tokens)
        self.entry_bm25 = BM25Index(entry_tokens)
        self.entry_of = np.array([entry_number[c.entry_id] for c in self.chunks], dtype=np.int32)
        self.is_overview = np.array([c.section == OVERVIEW_SECTION for c in self.chunks], dtype=bool)
        self.entries = {c.entry_id: c for c in self.chunks}
        self.terms = sorted(snapshot.lexicon.terms, key=len, reverse=True)
        # Typos are corrected only towards real words of the knowledge base (jieba also invents words from
        # unknown character runs), and towards its lexicon.
        seen = {t for chunk_tokens in tokens for t in chunk_tokens if not t.startswith(BIGRAM_MARK)}
        targets = {t for t in seen if self.analyzer.is_word(t) and t not in STOPWORDS}
        self.typos = HomophoneCorrector(
            targets | set(snapshot.lexicon.terms),
            seen,
            self.analyzer.is_word,
            function_chars=(w for w in STOPWORDS if len(w) == 1),
        )
        self._tokens = tokens
        self.vocabulary = seen
        self._subjects: dict[frozenset[str], SubjectLexicalIndex] = {}

    def family(self, entry_id: str) -> frozenset[str]:
        """Entries on the same subject: the same FAQ table or guide file, or the same category."""
        anchor = self.entries.get(entry_id)
        if anchor is None:
            return frozenset()
        return frozenset(
            c.entry_id
            for c in self.entries.values()
            if c.file == anchor.file or (anchor.category and c.category == anchor.category)
        )

    def subject_index(self, family: frozenset[str]) -> SubjectLexicalIndex:
        """The lexical index of one subject's entries, built on first use (a racing duplicate build is harmless)."""
        index = self._subjects.get(family)
        if index is None:
            members = [(c, t) for c, t in zip(self.chunks, self._tokens, strict=True) if c.entry_id in family]
            index = self._subjects[family] = SubjectLexicalIndex(members)
        return index


class SubjectLexicalIndex:
    """BM25 among one subject's entries only: a word every sibling shares weighs nothing, a detail weighs most.

    Units are a FAQ entry (its phrasings and answer) and each section of a guide or document (a detail asked about
    sits in one section); an entry scores its best unit.
    """

    def __init__(self, members: list[tuple[Chunk, list[str]]]) -> None:
        units: dict[tuple[str, str], list[str]] = {}
        for chunk, chunk_tokens in members:
            if chunk.section == OVERVIEW_SECTION and chunk.kind is not EntryKind.FAQ:
                continue
            section = "" if chunk.kind is EntryKind.FAQ else chunk.section
            units.setdefault((chunk.entry_id, section), []).extend(chunk_tokens)
        self._entry_of = [entry_id for entry_id, _ in units]
        self._bm25 = BM25Index(list(units.values()))

    def scores(self, tokens: list[str], known_only: bool = False) -> dict[str, float]:
        """Each entry's best unit score for the question's tokens, in [0, 1].

        With known_only, words none of the subject's units contain are left out rather than counted against every
        sibling alike: in a long story they only shrink all scores, and with them the differences that tell
        siblings apart.
        """
        if known_only:
            tokens = [token for token in tokens if self._bm25.knows(token)]
        best: dict[str, float] = {}
        for entry_id, score in zip(self._entry_of, self._bm25.scores(tokens).tolist(), strict=True):
            best[entry_id] = max(best.get(entry_id, 0.0), score)
        return best


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
        questions: QuestionVectors | None = None,
    ) -> None:
        self._index = index
        self._embeddings = embeddings
        # Shared with the petition recogniser: one embedding a message.
        self._questions = questions or QuestionVectors(embeddings, weights.max_query_parts)
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
        # Loading the embedding model and building the lexical index take a second each: overlap them.
        warm_up = threading.Thread(target=embed_array, args=(self._embeddings, ["预热"]), daemon=True)
        warm_up.start()
        loaded = _Loaded(snapshot, lambda s: ChineseAnalyzer(s.lexicon, cache_dir=self._cache_dir))
        loaded.analyzer.content_words("预热")  # jieba's tagger loads its tables once: not on a resident's follow-up
        warm_up.join()
        with self._lock:
            self._loaded = loaded

    def _current(self) -> _Loaded:
        if self._loaded is None:
            self.reload()
        assert self._loaded is not None
        return self._loaded

    def retrieve(
        self,
        question: str,
        top_k: int = 5,
        within: frozenset[str] | None = None,
        context: str = "",
        exclude: frozenset[str] = frozenset(),
    ) -> list[RetrievalHit]:
        """The top_k entries for a question, best first, with their scores.

        `exclude` leaves entries out as if the knowledge base lacked them (calibration asks an entry's own question
        of the rest of the knowledge base: an in-domain question it does not cover).

        For a follow-up, `within` limits the search to the previous topic's entries and `context` names that topic:
        it steers the dense side, while the lexical side scores the resident's own words, so that a follow-up about
        something the knowledge base lacks ("有清真菜吗" after 社区食堂) is not answered on the topic's strength.
        """
        loaded = self._current()
        text = loaded.typos.correct(normalise_text(question))
        if not text or not loaded.chunks:
            return []
        w = self._weights
        parts = self._questions.parts(text)
        context = normalise_text(context)
        if context:
            parts.insert(0, f"{context} {text}")
        vectors = self._questions.of_parts(parts)
        dense = self._index.query(vectors.tolist(), min(w.dense_candidates, len(loaded.chunks)))
        tokens = loaded.analyzer.tokens(text) or loaded.analyzer.tokens(f"{context} {text}")
        lexical = self._lexical(loaded, tokens)
        # "有没有完整的指南", "电话列表": the resident wants a whole guide or list, not one item of it.
        wants_overview = any(cue in text for cue in _OVERVIEW_CUES)

        candidates = {loaded.position[cid] for cid in dense if cid in loaded.position}
        candidates.update(int(i) for i in np.argsort(-lexical)[: w.lexical_candidates] if lexical[i] > 0)
        # A chunk outside the dense candidates scores no better than the weakest dense candidate.
        dense_floor = min(dense.values()) if dense else 0.0
        if within is not None:
            candidates = {i for i in candidates if loaded.chunks[i].entry_id in within}
        if exclude:
            candidates = {i for i in candidates if loaded.chunks[i].entry_id not in exclude}
        per_entry: dict[str, list[tuple[float, int, float]]] = {}
        for i in candidates:
            d = dense.get(loaded.chunks[i].chunk_id, dense_floor)
            fused = w.dense * d + (1 - w.dense) * float(lexical[i])
            if wants_overview and loaded.is_overview[i]:
                fused += w.overview_bonus
            per_entry.setdefault(loaded.chunks[i].entry_id, []).append((fused, i, d))

        hits: list[RetrievalHit] = []
        for scored in per_entry.values():
            scored.sort(reverse=True)
            best, i, d = scored[0]
            # An entry that several chunks support is likelier the answer than one lucky phrasing.
            second = scored[1][0] if len(scored) > 1 else 0.0
            hits.append(_hit(loaded.chunks[i], best + w.second_chunk * second, d, float(lexical[i])))
        hits.sort(key=lambda hit: hit.score, reverse=True)
        if w.sibling_lexical and hits and within is None:
            long_question = 0 < w.long_question_chars <= len(text)
            hits = self._separate_siblings(loaded, tokens, hits, long_question)
        return hits[:top_k]

    def retrieve_many(
        self, asked: list[tuple[str, frozenset[str]]], top_k: int = 5, batch: int = 32
    ) -> list[list[RetrievalHit]]:
        """`retrieve` for many (question, entries left out) pairs, their embeddings computed a batch at a time."""
        loaded = self._current()
        found: list[list[RetrievalHit]] = []
        for start in range(0, len(asked), batch):
            chunk = asked[start : start + batch]
            self._questions.embed_ahead([loaded.typos.correct(normalise_text(question)) for question, _ in chunk])
            found.extend(self.retrieve(question, top_k, exclude=exclude) for question, exclude in chunk)
        return found

    def _separate_siblings(
        self, loaded: _Loaded, tokens: list[str], hits: list[RetrievalHit], long_question: bool = False
    ) -> list[RetrievalHit]:
        """Within the best entry's subject, siblings lose score by how far their wording falls behind the best.

        Entry-level BM25 is dominated by the subject's words ("高龄津贴" in every entry of that table) and saturates
        for short questions, so two FAQs of one table, or a FAQ and the guide section holding the detail asked
        about, nearly tie. Scored with IDF among the subject's entries only, the words that tell siblings apart
        decide. Entries outside the subject keep their scores, and the sibling whose wording fits best keeps its
        own, so the assistant is no surer of the subject than before. Follow-ups (already confined to one subject,
        with their own calibrated threshold) are left as they are. In a long question (a resident's story with the
        question at the end) the story's words that no sibling uses are left out of this comparison.
        """
        family = loaded.family(hits[0].entry_id)
        fit = loaded.subject_index(family).scores(tokens, known_only=long_question)
        best_fit = max(fit.get(hit.entry_id, 0.0) for hit in hits if hit.entry_id in family)
        w = self._weights.sibling_lexical
        separated = [
            dataclasses.replace(hit, score=round(hit.score - w * (best_fit - fit.get(hit.entry_id, 0.0)), 4))
            if hit.entry_id in family
            else hit
            for hit in hits
        ]
        separated.sort(key=lambda hit: hit.score, reverse=True)
        return separated

    def family(self, entry_id: str) -> frozenset[str]:
        """Entries on the same subject: the same FAQ table or guide file, or the same category."""
        return self._current().family(entry_id)

    @property
    def generation(self) -> str:
        """The index generation being queried (loaded on first use); it changes after an ingest and reload."""
        return self._current().generation

    def chunks(self) -> tuple[Chunk, ...]:
        """Every chunk of the generation being queried (for what the knowledge base covers as a whole)."""
        return self._current().chunks

    def calibration(self) -> Calibration | None:
        """The answer decision calibrated on the loaded generation when it was ingested (None: not calibrated, or no
        generation loaded yet: asking never loads the index, so a page can show it while the index is missing)."""
        loaded = self._loaded
        return loaded.calibration if loaded is not None else None

    def entry_questions(self) -> dict[str, tuple[str, ...]]:
        """Each entry's own questions: a FAQ's phrasings, a guide's or document's title."""
        questions: dict[str, list[str]] = {}
        for chunk in self._current().chunks:
            if chunk.kind is EntryKind.FAQ:
                if "#q" in chunk.chunk_id:
                    questions.setdefault(chunk.entry_id, []).append(chunk.text)
            elif chunk.section == OVERVIEW_SECTION:
                questions.setdefault(chunk.entry_id, []).append(chunk.title)
        return {entry_id: tuple(texts) for entry_id, texts in questions.items()}

    def topic_terms(self, entry_id: str) -> str:
        """The domain words naming an entry's subject ("高龄津贴", "社区食堂 送餐上门"), for follow-up questions."""
        loaded = self._current()
        anchor = loaded.entries.get(entry_id)
        if anchor is None:
            return ""
        title = normalise_text(anchor.title)
        chosen: list[str] = []
        for term in loaded.terms:
            if term in title and not any(term in longer for longer in chosen):
                chosen.append(term)
        return " ".join(chosen)

    def mentions_domain_term(self, text: str) -> bool:
        """Whether text names any subject the knowledge base knows (a term, a synonym, a guide title word)."""
        loaded = self._current()
        normalised = loaded.typos.correct(normalise_text(text))
        return any(term in normalised for term in loaded.terms)

    def unknown_words(self, text: str) -> list[str]:
        """The content words of text the knowledge base never uses: a subject of its own ("宽带", "宠物医院"),
        dictionary words of two characters or more (not what jieba invents from a run of characters)."""
        loaded = self._current()
        normalised = loaded.typos.correct(normalise_text(text))
        return [
            word
            for word in loaded.analyzer.content_words(normalised)
            if len(word) >= 2
            and word not in loaded.vocabulary
            and word not in STOPWORDS
            and loaded.analyzer.is_word(word)
        ]

    def _lexical(self, loaded: _Loaded, tokens: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Each chunk's lexical score: the BM25 score of its whole entry."""
        per_chunk: np.ndarray[Any, np.dtype[np.float32]] = loaded.entry_bm25.scores(tokens)[loaded.entry_of]
        return per_chunk


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
