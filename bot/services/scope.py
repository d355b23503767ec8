"""What the knowledge base cannot cover by its nature: questions about another city's or province's policy."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

_REGIONS_FILE = Path(__file__).parent / "resources" / "regions.txt"
# "在深圳工作", "从上海搬来", "老家河南" say where a person is from, not whose policy is asked about.
_PERSON_LOCATION = ("在", "从", "去", "到", "回", "来", "住", "是", "老家", "户口", "户籍", "离开", "搬")


class RegionScope:
    """Spots questions about another place's policy (the knowledge base only knows the home community's)."""

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
        self._pattern = (
            re.compile("(" + "|".join(map(re.escape, names)) + ")(?:市|省|区|县|自治区)?") if names else None
        )

    def other_region(self, text: str) -> str | None:
        """The other place a question asks about, or None."""
        if self._pattern is None:
            return None
        for match in self._pattern.finditer(text):
            before = text[max(0, match.start() - 2) : match.start()]
            if not before.endswith(_PERSON_LOCATION):
                return match.group(1)
        return None
