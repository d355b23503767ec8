"""Residents' personal numbers (mobile, ID card, bank card, landline), written every way a phone lets them."""

from __future__ import annotations

import random
import re
import unicodedata

_FULL_WIDTH = str.maketrans("0123456789+-.() ", "０１２３４５６７８９＋－．（）\u3000")
_SEPARATORS = [" ", "-", ".", " - ", "·", "—", "/"]
CONTEXTS = ["我电话{}，", "联系方式：{}", "{}", "身份证号{}谢谢", "打{}找我", "卡号{}。", "号码是 {} 麻烦回电"]
KINDS = ("mobile", "id", "id15", "card", "landline")


def _digits_of(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _id_card(rng: random.Random, *, old: bool) -> str:
    region = str(rng.randint(110000, 659999))
    birth = f"{rng.randint(1930, 2015)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    serial = f"{rng.randint(0, 999):03d}"
    return region + birth[2:] + serial if old else region + birth + serial + rng.choice("0123456789X")


def number_of_kind(kind: str, rng: random.Random) -> str:
    """A random number of one kind, digits only."""
    if kind == "mobile":
        return "1" + rng.choice("3456789") + _digits_of(rng, 9)
    if kind in ("id", "id15"):
        return _id_card(rng, old=kind == "id15")
    if kind == "card":
        return rng.choice(["6222", "6228", "6217", "4367", "5187"]) + _digits_of(rng, rng.choice([12, 13, 15]))
    return (
        rng.choice(["010", "021", "0755", "0571", "020"]) + str(rng.randint(2, 8)) + _digits_of(rng, rng.choice([6, 7]))
    )


def written(number: str, kind: str, rng: random.Random) -> str:
    """number as a resident might type it: grouped, spaced out, full-width, with a country code …"""
    style = rng.randrange(8)
    if kind == "mobile" and style == 0:
        return rng.choice(["+86", "+86 ", "0086", "86", "+86-", "(+86)"]) + number
    if style == 1:  # groups: 3-4-4 for phones, 6-8-4 for IDs, 4s for cards
        cuts = {"mobile": [3, 7], "id": [6, 14], "id15": [6, 12], "card": [4, 8, 12, 16], "landline": [3]}[kind]
        separator = rng.choice(_SEPARATORS)
        parts, last = [], 0
        for cut in cuts:
            if cut < len(number):
                parts.append(number[last:cut])
                last = cut
        return separator.join([*parts, number[last:]])
    if style == 2:  # one digit at a time (voice input)
        return " ".join(number)
    if style == 3:
        return number.translate(_FULL_WIDTH)
    if style == 4:  # full-width with full-width separators
        return "－".join([number[:3], number[3:7], number[7:]]).translate(_FULL_WIDTH)
    return number


def personal_number(rng: random.Random) -> tuple[str, str]:
    """(the number's digits, a sentence giving it as a resident might)."""
    kind = rng.choice(KINDS)
    number = number_of_kind(kind, rng)
    return number, rng.choice(CONTEXTS).format(written(number, kind, rng))


def revealed(number: str, text: str) -> bool:
    """Whether text shows more of number than a short prefix and the last four digits, however it is written."""
    joined = re.sub(r"[ \t.\-_/·•—–~()+]", "", unicodedata.normalize("NFKC", text))
    return number[:-4] in joined or number[3:] in joined
