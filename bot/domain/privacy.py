"""Masking residents' personal numbers (phone, ID card, bank card) before anything is stored, logged or sent.

Residents write numbers every way a phone lets them: "139 1234 5678", "139.1234.5678", "+86 139-1234-5678",
"008613912345678", full-width "１３９１２３４５６７８", one digit per space (voice input), IDs in groups
("110101 19900307 1234"), old 15-digit IDs. So numbers are found on a normalised view of the text (full-width
forms folded, separators between digits allowed) and classified by their digits, never by how they were typed.
"""

from __future__ import annotations

import re
import traceback
import unicodedata
from collections.abc import Callable

# Up to three separators between two digits ("139 - 1234 - 5678"): spaces, dots, hyphens and dashes, slashes,
# brackets ("(010)1234…").
_SEPARATOR = r"[ \t.\-_/·•—–~()]"
_NUMBER_RUN = re.compile(rf"\+?\d(?:{_SEPARATOR}{{0,3}}\d|[Xx](?![A-Za-z0-9]))*")
_GROUP = re.compile(r"\d+[Xx]?")
# A number longer than this is no single phone, ID or bank-card number; the run is split into candidates.
_LONGEST = 24
_UNKNOWN_LONG = 11
_SHORTEST = 10

_ID_18 = re.compile(r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]")
_ID_15 = re.compile(r"[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}")
_MOBILE = re.compile(r"(?:\+?(?:00)?86)?(1[3-9]\d)\d{4}(\d{4})")
_BANK_CARD = re.compile(r"[1-9]\d{15,18}")
_LANDLINE = re.compile(r"(0[1-9]\d{1,2}?)(\d{7,8})")


def mask_personal_data(text: str) -> str:
    """Replace ID-card, bank-card, mobile and landline numbers (however typed) with masked forms that keep a short
    prefix and suffix, so staff can still tell two numbers apart."""
    view = _normalised_view(text)
    pieces: list[str] = []
    last = 0
    for run in _NUMBER_RUN.finditer(view):
        for start, end, masked in _masked_spans(view, run.start(), run.end()):
            pieces.append(text[last:start])
            pieces.append(masked)
            last = end
    if last == 0:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def masked_traceback(exc: BaseException) -> str:
    """An exception's traceback for a log, residents' numbers masked (in messages, in database errors' parameters)."""
    return mask_personal_data("".join(traceback.format_exception(exc)).rstrip())


def _normalised_view(text: str) -> str:
    """The text with each character NFKC-folded where that keeps it one character (full-width digits, ＋, －, the
    ideographic space), so positions in the view are positions in the text."""
    if text.isascii():
        return text
    folded = []
    for char in text:
        if char.isascii():
            folded.append(char)
            continue
        normal = unicodedata.normalize("NFKC", char)
        folded.append(normal if len(normal) == 1 else char)
    return "".join(folded)


def _masked_spans(view: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """The personal numbers inside one run of digits and separators: (start, end, masked text) in the text.

    The run is taken whole when its digits form one number; otherwise the longest leading group sequence that does,
    then the rest, so "13912345678 2号楼" masks the phone and keeps the 2.
    """
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(view, start, end)]
    plus = view[start] == "+"
    spans: list[tuple[int, int, str]] = []
    i = 0
    while i < len(groups):
        found: tuple[int, str] | None = None
        digits = ""
        for j in range(i, len(groups)):
            digits += view[groups[j][0] : groups[j][1]]
            if len(digits) > _LONGEST:
                break
            if len(digits) < _SHORTEST:
                continue
            masked = _classify(("+" if plus and i == 0 else "") + digits)
            if masked is not None:
                found = (j, masked)
        if found is not None:
            j, masked = found
            first = start if plus and i == 0 else groups[i][0]
            spans.append((first, groups[j][1], masked))
            i = j + 1
            continue
        group = view[groups[i][0] : groups[i][1]]
        if len(group) >= _UNKNOWN_LONG:  # a long number of no known kind: an account or card number, most likely
            spans.append((groups[i][0], groups[i][1], group[:3] + "*" * (len(group) - 3)))
        i += 1
    return spans


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (_ID_18, lambda m: f"{m.group(0)[:3]}***********{m.group(0)[-4:]}"),
    (_MOBILE, lambda m: f"{m.group(1)}****{m.group(2)}"),
    (_ID_15, lambda m: f"{m.group(0)[:3]}********{m.group(0)[-4:]}"),
    (_BANK_CARD, lambda m: f"{m.group(0)[:4]} **** **** {m.group(0)[-4:]}"),
    (_LANDLINE, lambda m: f"{m.group(1)}-****{m.group(2)[-2:]}"),
]


def _classify(number: str) -> str | None:
    """The masked form of number if its digits are a personal number (the whole of them), else None."""
    for pattern, masked in _RULES:
        match = pattern.fullmatch(number)
        if match is not None:
            return masked(match)
    return None
