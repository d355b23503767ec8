"""Masking residents' personal numbers (phone, ID card, bank card) before any log line or LLM call."""

from __future__ import annotations

import re

# Order matters: the longest digit runs first, so an ID-card number is not mistaken for a phone number.
_ID_CARD = re.compile(
    r"(?<![0-9])([1-9]\d{2})\d{3}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9])"
)
_BANK_CARD = re.compile(r"(?<![0-9])(\d{4})(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?(1[3-9]\d)[ -]?\d{4}[ -]?(\d{4})(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(0\d{2,3})-?(\d{7,8})(?![0-9])")


def mask_personal_data(text: str) -> str:
    """Replace ID-card, bank-card, mobile and landline numbers with masked forms that keep a short prefix."""
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}***********{m.group(0)[-4:]}", text)
    text = _BANK_CARD.sub(lambda m: f"{m.group(1)} **** **** {_last_digits(m.group(0))}", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)
    return _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(2)[-2:]}", text)


def _last_digits(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    return digits[-4:]
