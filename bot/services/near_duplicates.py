"""Finding the open question a new one repeats: an index of open questions' embeddings per community that grows
as questions arrive, kept in the database so a restart embeds nothing again."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bot.domain.escalation import EmbeddingRow
from bot.ports import UnansweredQuestions

Vector = np.ndarray[Any, np.dtype[np.float32]]
# How often a community's open list is read again in full, dropping questions settled by another process (the
# command line); within the process settled questions are dropped as soon as they turn up as a match.
RESYNC_S = 600.0
# Open questions queued before their embedding was kept are embedded at most this many per new question.
EMBEDDED_PER_QUESTION = 64
_READ_BATCH = 1000


class _CommunityVectors:
    """One community's open questions as rows of a matrix that grows by doubling; a settled row is zeroed."""

    def __init__(self) -> None:
        self.rows: dict[int, int] = {}
        self.numbers: list[int] = []
        self.matrix: Vector = np.zeros((0, 0), dtype=np.float32)
        self.synced_at = -RESYNC_S

    def add(self, number: int, vector: Vector) -> None:
        if number in self.rows:
            return
        if len(self.numbers) == len(self.matrix) or self.matrix.shape[1] != len(vector):
            grown = np.zeros((max(64, 2 * len(self.numbers)), len(vector)), dtype=np.float32)
            if self.matrix.shape[1] == len(vector):
                grown[: len(self.numbers)] = self.matrix[: len(self.numbers)]
            self.matrix = grown
        self.rows[number] = len(self.numbers)
        self.matrix[len(self.numbers)] = vector
        self.numbers.append(number)

    def remove(self, number: int) -> None:
        row = self.rows.pop(number, None)
        if row is not None:
            self.matrix[row] = 0.0

    def nearest(self, vector: Vector, *, at_least: float, limit: int) -> list[tuple[int, float]]:
        if not self.rows or self.matrix.shape[1] != len(vector):
            return []
        similarity = self.matrix[: len(self.numbers)] @ vector
        best = np.argsort(-similarity)[:limit]
        return [
            (self.numbers[i], float(similarity[i]))
            for i in best
            if similarity[i] >= at_least and self.numbers[i] in self.rows
        ]


class OpenQuestionVectors:
    """The embeddings of open questions per community. New questions are added as they are queued (and read by
    number from the database when another process queued them); a community's list is read again in full every
    RESYNC_S; the work per new question is one matrix product and a bounded number of embeddings."""

    def __init__(self, questions: UnansweredQuestions, embed: Callable[[list[str]], Vector], embedding_id: str) -> None:
        self._questions = questions
        self._embed = embed
        self._model = embedding_id
        self._communities: dict[str, _CommunityVectors] = {}
        self._read_up_to = 0
        self._embedding_budget = EMBEDDED_PER_QUESTION

    def stored(self, vector: Vector) -> dict[str, Any]:
        """The columns that keep a new question's embedding."""
        return {"vector": np.asarray(vector, dtype=np.float32).tobytes(), "vector_model": self._model}

    def add(self, number: int, community: str, vector: Vector) -> None:
        """A question just queued."""
        self._communities.setdefault(community, _CommunityVectors()).add(number, np.asarray(vector, np.float32))

    def forget(self, number: int, community: str) -> None:
        """A question no longer open."""
        if community in self._communities:
            self._communities[community].remove(number)

    def nearest(self, vector: Vector, community: str, *, at_least: float, limit: int = 5) -> list[tuple[int, float]]:
        """Open questions of community at least at_least similar to vector, most similar first."""
        self._embedding_budget = EMBEDDED_PER_QUESTION
        self._read_new()
        vectors = self._communities.setdefault(community, _CommunityVectors())
        if time.monotonic() - vectors.synced_at >= RESYNC_S:
            self._resync(community)
        return self._communities[community].nearest(np.asarray(vector, np.float32), at_least=at_least, limit=limit)

    def _read_new(self) -> None:
        """Questions queued since the last read (by this or another process)."""
        while True:
            rows = self._questions.queued_after(self._read_up_to, model=self._model, limit=_READ_BATCH)
            if not rows:
                return
            self._read_up_to = rows[-1][0]
            for number, (community, vector) in self._vectors(rows).items():
                self.add(number, community, vector)
            if len(rows) < _READ_BATCH:
                return

    def _resync(self, community: str) -> None:
        """Read a community's open questions again in full: settled ones drop out, missing ones come in."""
        numbers = self._questions.open_numbers(community=community)
        old = self._communities.get(community, _CommunityVectors())
        fresh = _CommunityVectors()
        missing = []
        for number in numbers:
            row = old.rows.get(number)
            if row is None:
                missing.append(number)
            else:
                fresh.add(number, old.matrix[row])
        if missing:
            for number, (_, vector) in self._vectors(self._questions.vectors(missing, model=self._model)).items():
                fresh.add(number, vector)
        fresh.synced_at = time.monotonic()
        self._communities[community] = fresh

    def _vectors(self, rows: list[EmbeddingRow]) -> dict[int, tuple[str, Vector]]:
        """(community, embedding) by number: kept ones decoded; a bounded number of the others embedded now and
        kept (questions queued by an older version, or under another embedding model)."""
        found: dict[int, tuple[str, Vector]] = {}
        unembedded: list[tuple[int, str, str]] = []
        for number, community, question, stored in rows:
            if stored is not None:
                found[number] = (community, np.frombuffer(stored, dtype=np.float32))
            else:
                unembedded.append((number, community, question))
        unembedded = unembedded[: self._embedding_budget]
        self._embedding_budget -= len(unembedded)
        if unembedded:
            made = self._embed([question for _, _, question in unembedded])
            fresh = {n: (c, np.asarray(v, dtype=np.float32)) for (n, c, _), v in zip(unembedded, made, strict=True)}
            self._questions.keep_vectors({n: v.tobytes() for n, (_, v) in fresh.items()}, model=self._model)
            found.update(fresh)
        return found
