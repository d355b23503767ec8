"""门牌码: a QR code posted on a building or a door that opens the phone page where a resident files a petition with the
place already filled in; the places a bulk request names, and the limits that keep the page from being abused."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import AssistantError

# At most this many codes are made at once (a sheet of a large estate's buildings and units).
MAX_CODES_AT_ONCE = 300
MAX_UNITS = 12
PLACE_CHARS = 60
# "1-12号楼", "1~3栋", "5至8幢": a run of buildings
_RUN = re.compile(r"^(\d{1,4})\s*[-—–~～至到]\s*(\d{1,4})\s*(号楼|栋|幢|号|座)?$")
_SEPARATORS = re.compile(r"[,，、;；\n\r]+")


@dataclass(frozen=True, slots=True)
class DoorCode:
    """One code: its unguessable token (in the QR link), the community and the place it stands for, who made it."""

    id: int
    token: str
    community: str
    place: str
    created_by: str
    created_at: datetime
    active: bool


@dataclass(frozen=True, slots=True)
class SubmissionLimits:
    """How many petitions the phone page takes: per device an hour, per address an hour, per code a day; and how long
    the description may be."""

    per_device_hour: int = 3
    per_address_hour: int = 10
    per_code_day: int = 30
    text_chars: int = 500


class LimitHit(StrEnum):
    """Which of the page's limits a submission would pass."""

    DEVICE = "device"
    ADDRESS = "address"
    CODE = "code"


@dataclass(frozen=True, slots=True)
class Admission:
    """The rate limits' answer to one submission: a reserved slot (its id), or the limit it would pass."""

    submission_id: int
    refused: LimitHit | None = None


class PlaceListError(AssistantError):
    """A bulk request for codes that cannot be read; the message says what to write."""


class DoorCodeNotFoundError(AssistantError):
    """No active code has that token (never made, or switched off)."""


class SubmissionRefusedError(AssistantError):
    """A petition the phone page does not file (too many, too long, unsuitable words); the message says why."""


def expand_places(spec: str, units: int = 0) -> list[str]:
    """The places a request names: "1-12号楼" → 1号楼 … 12号楼; "3号楼，5号楼" → both; with units, each building's
    1单元 … n单元 ("3号楼2单元"). Order kept, repeats dropped."""
    if not 0 <= units <= MAX_UNITS:
        raise PlaceListError(f"每栋楼的单元数要在 0 到 {MAX_UNITS} 之间")
    places: list[str] = []
    for part in (p.strip() for p in _SEPARATORS.split(spec)):
        if not part:
            continue
        run = _RUN.match(part)
        if run is None:
            places.append(" ".join(part.split())[:PLACE_CHARS])
            continue
        first, last, suffix = int(run.group(1)), int(run.group(2)), run.group(3) or "号楼"
        if last < first or last - first >= MAX_CODES_AT_ONCE:
            raise PlaceListError(f"“{part}”的范围不对，请写成“1-12号楼”这样从小到大的范围")
        places.extend(f"{n}{suffix}" for n in range(first, last + 1))
    if units:
        places = [f"{place}{unit}单元" for place in places for unit in range(1, units + 1)]
    unique = list(dict.fromkeys(places))
    if not unique:
        raise PlaceListError("请写上楼栋，比如“1-12号楼”或“3号楼，5号楼”")
    if len(unique) > MAX_CODES_AT_ONCE:
        raise PlaceListError(f"一次最多生成 {MAX_CODES_AT_ONCE} 个门牌码，请分几次生成")
    return unique
