"""Chinese-aware chunking: FAQs question by question; guides by heading, then by sentence, within a size bound."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from bot.domain.knowledge import Chunk, EntryKind, KnowledgeEntry

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|\n")
_CLAUSE_END = re.compile(r"(?<=[，、,：:])")


def split_sentences(text: str) -> list[str]:
    """Split Chinese text after 。！？； (and line breaks), keeping the punctuation."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def pack_sentences(text: str, max_chars: int) -> list[str]:
    """Greedily pack whole sentences into pieces of at most max_chars; only an over-long sentence is cut, at commas."""
    return _pack((part for sentence in split_sentences(text) for part in _bounded(sentence, max_chars)), max_chars)


def _bounded(sentence: str, max_chars: int) -> list[str]:
    """A sentence as pieces within the bound: whole if it fits, else packed clauses (an over-long clause cut hard)."""
    if len(sentence) <= max_chars:
        return [sentence]
    clauses = (c[i : i + max_chars] for c in _CLAUSE_END.split(sentence) if c for i in range(0, len(c), max_chars))
    return _pack(clauses, max_chars)


def _pack(units: Iterable[str], max_chars: int) -> list[str]:
    """Join consecutive units while the result stays within max_chars."""
    pieces: list[str] = []
    current = ""
    for unit in units:
        if current and len(current) + len(unit) > max_chars:
            pieces.append(current)
            current = ""
        current += unit
    if current:
        pieces.append(current)
    return pieces


def chunk_entry(entry: KnowledgeEntry, max_chars: int) -> list[Chunk]:
    """Turn one entry into indexable chunks; every chunk keeps what a citation needs."""

    def chunk(chunk_id: str, section: str, text: str, content: str) -> Chunk:
        return Chunk(
            chunk_id=chunk_id,
            entry_id=entry.id,
            kind=entry.kind,
            title=entry.title,
            section=section,
            source=entry.source,
            updated=entry.updated,
            category=entry.category,
            file=entry.file,
            text=text,
            content=content,
            community=entry.community,
        )

    if entry.kind is EntryKind.FAQ:
        # One chunk per phrasing, plus the question with its answer so details only the answer holds still match.
        phrasings = [chunk(f"{entry.id}#q{n}", entry.title, q, entry.answer) for n, q in enumerate(entry.questions)]
        return [*phrasings, chunk(f"{entry.id}#a", entry.title, f"{entry.title} {entry.answer}", entry.answer)]
    chunks = [_overview(entry, max_chars, chunk)]
    for s, section in enumerate(entry.sections):
        heading = f"{entry.title} {section.heading}".strip()
        for c, piece in enumerate(pack_sentences(section.text, max_chars)):
            chunks.append(chunk(f"{entry.id}#s{s}c{c}", section.heading or entry.title, f"{heading}：{piece}", piece))
    return chunks


OVERVIEW_SECTION = "概述"


def _overview(entry: KnowledgeEntry, max_chars: int, make: Callable[[str, str, str, str], Chunk]) -> Chunk:
    """A table-of-contents chunk: title, opening text and headings, for questions about the document as a whole."""
    headings = [s.heading for s in entry.sections if s.heading]
    opening = pack_sentences(entry.sections[0].text, max_chars)[0] if entry.sections else ""
    contents = f"包括：{'、'.join(headings)}。" if headings else ""
    return make(f"{entry.id}#overview", OVERVIEW_SECTION, f"{entry.title}：{contents}", opening + contents)
