"""Plain values of the knowledge base: entries staff write, the chunks we index, the hits retrieval returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EntryKind(StrEnum):
    """What kind of knowledge an entry is; decides how it is indexed and quoted."""

    FAQ = "faq"
    GUIDE = "guide"
    DOCUMENT = "document"


@dataclass(frozen=True, slots=True)
class Section:
    """One headed part of a guide or document."""

    heading: str
    text: str


@dataclass(frozen=True, slots=True)
class KnowledgeEntry:
    """One citable unit staff maintain: a FAQ entry (question + answer) or a guide/document with sections."""

    id: str
    kind: EntryKind
    title: str
    category: str
    source: str
    updated: str
    file: str
    community: str = ""
    questions: tuple[str, ...] = ()
    answer: str = ""
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """What is embedded and indexed: one FAQ phrasing or one bounded piece of a section."""

    chunk_id: str
    entry_id: str
    kind: EntryKind
    title: str
    section: str
    source: str
    updated: str
    category: str
    file: str
    text: str
    content: str
    community: str = ""


@dataclass(frozen=True, slots=True)
class RetrievalHit:
    """One knowledge entry found for a query, with the chunk that matched best and its scores."""

    entry_id: str
    kind: EntryKind
    title: str
    section: str
    source: str
    updated: str
    matched_text: str
    content: str
    score: float
    dense_score: float
    lexical_score: float
    chunk_id: str


@dataclass(frozen=True, slots=True)
class FileFailure:
    """A knowledge file that could not be ingested, and why (in Chinese, for staff)."""

    file: str
    reason: str


@dataclass(slots=True)
class IngestReport:
    """What one ingestion run did."""

    files_total: int = 0
    files_added: list[str] = field(default_factory=list)
    files_updated: list[str] = field(default_factory=list)
    files_unchanged: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)
    chunks_total: int = 0
    chunks_embedded: int = 0
    rebuilt: bool = False
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """Whether the index was rewritten."""
        return bool(self.files_added or self.files_updated or self.files_removed or self.rebuilt)
