"""The SMS channel's rules, no I/O: a resident's mainland mobile number checked and shown masked, and a text checked
against the longest the community pays for. The carrier splits a long text into 70-character segments itself."""

from __future__ import annotations

import re

from bot.domain.outbox import PermanentSendError
from bot.domain.privacy import mask_personal_data

SMS = "sms"
# Separators residents and staff type inside a number, and the country code in front of it.
_SEPARATORS = re.compile(r"[\s\-()（）]")
_COUNTRY = re.compile(r"^(?:\+|00)?86(?=1\d{10}$)")
_MOBILE = re.compile(r"1[3-9]\d{9}")


def typed_number(number: str) -> str:
    """A number as typed, without the separators inside it or the +86 in front of a mobile number (not checked)."""
    return _COUNTRY.sub("", _SEPARATORS.sub("", number.strip()))


def is_mobile(digits: str) -> bool:
    """Whether digits are a mainland mobile number: 11 digits starting 13–19."""
    return _MOBILE.fullmatch(digits) is not None


def check_mobile(number: str) -> str:
    """The number as 11 digits (spaces, hyphens and +86 removed); PermanentSendError when it is no mainland mobile
    number, before anything is sent."""
    digits = typed_number(number)
    if not is_mobile(digits):
        raise PermanentSendError(f"手机号不对（{mask_mobile(number)}）：应是 11 位、以 13–19 开头的大陆手机号")
    return digits


def mask_mobile(number: str) -> str:
    """A number as logs and screens show it: a mobile number's first three and last four digits, anything else
    starred but for its last two characters."""
    masked = mask_personal_data(number.strip())
    if masked != number.strip():
        return masked
    return "*" * max(0, len(masked) - 2) + masked[-2:] if len(masked) > 2 else "**"


def check_text(text: str, *, max_chars: int) -> str:
    """The text, stripped; PermanentSendError when it is empty or longer than max_chars (an SMS is paid per
    70-character segment)."""
    text = text.strip()
    if not text:
        raise PermanentSendError("短信内容是空的，没有发送")
    if len(text) > max_chars:
        raise PermanentSendError(f"短信太长（{len(text)} 字，最多 {max_chars} 字），没有发送：请缩短后重发")
    return text
