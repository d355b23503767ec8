"""What the knowledge base cannot cover by its nature: questions about another city's or province's policy."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from bot.domain.knowledge import Chunk

_REGIONS_FILE = Path(__file__).parent / "resources" / "regions.txt"
# "在深圳工作", "从上海搬来", "老家河南" say where a person is from, not whose policy is asked about.
_PERSON_LOCATION = ("在", "从", "去", "到", "回", "来", "住", "是", "老家", "户口", "户籍", "离开", "搬")
# A place the knowledge base speaks for: named in an entry's title or source ("广东省人社厅"), or in the text of at
# least this many entries. One phrasing in passing ("带老人去北京看病医保要先办啥") does not make it covered.
_COVERING_ENTRIES = 3


class RegionScope:
    """Spots questions about another place's policy: a place neither home nor covered by the knowledge base."""

    def __init__(self, home_regions: Iterable[str] = (), regions_file: Path = _REGIONS_FILE) -> None:
        home = {r.strip() for r in home_regions if r.strip()}
        names = [
            name
            for line in regions_file.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
            for name in line.split()
            if name not in home
        ]
        names.sort(key=len, reverse=True)
        self._names = re.compile("|".join(map(re.escape, names))) if names else None
        self._pattern = (
            re.compile("(" + "|".join(map(re.escape, names)) + ")(?:市|省|区|县|自治区)?") if names else None
        )

    def covered_by(self, chunks: Iterable[Chunk]) -> frozenset[str]:
        """The listed places a knowledge base covers: named in an entry's title or source, or in several entries."""
        if self._names is None:
            return frozenset()
        headed: set[str] = set()
        mentioned: dict[str, set[str]] = {}
        for chunk in chunks:
            headed.update(self._names.findall(f"{chunk.title} {chunk.source}"))
            for name in self._names.findall(f"{chunk.text} {chunk.content}"):
                mentioned.setdefault(chunk.entry_id, set()).add(name)
        spread = Counter(name for names in mentioned.values() for name in names)
        return frozenset(headed | {name for name, entries in spread.items() if entries >= _COVERING_ENTRIES})

    def other_region(self, text: str, covered: frozenset[str] = frozenset()) -> str | None:
        """The other place a question asks about (neither home nor in covered), or None."""
        if self._pattern is None:
            return None
        for match in self._pattern.finditer(text):
            before = text[max(0, match.start() - 2) : match.start()]
            if not before.endswith(_PERSON_LOCATION) and match.group(1) not in covered:
                return match.group(1)
        return None
