"""WeCom (企业微信) group robots' rules, no I/O: what a robot key looks like and how it is shown, and how a text is cut
to the 2048 UTF-8 bytes a robot message holds."""

from __future__ import annotations

import re

from bot.domain.outbox import PermanentSendError

WECOM = "wecom"
CONTENT_LIMIT_BYTES = 2048
# Room kept in every part of a split text for its "（12/34）" mark (13 bytes in UTF-8).
_PART_MARK_BYTES = 16
# A robot key as WeCom shows it in the webhook address: five groups of letters and digits, 8-4-4-4-12.
_KEY = re.compile(r"[0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12}")
_KEY_IN_TEXT = re.compile(r"(key=)([^&\s\"']+)")
# A split prefers to end a part after one of these, in the second half of the part at the latest.
_BREAKS = "\n。！？；"


def mask_key(key: str) -> str:
    """A robot key as logs and screens show it: its first and last four characters only."""
    key = key.strip()
    if len(key) <= 12:
        return "****"
    return f"{key[:4]}****{key[-4:]}"


def mask_robot_keys(text: str) -> str:
    """A log line with every robot key in it masked: key= values and anything shaped like a key."""
    text = _KEY_IN_TEXT.sub(lambda match: match.group(1) + mask_key(match.group(2)), text)
    return _KEY.sub(lambda match: mask_key(match.group(0)), text)


def check_robot_key(key: str) -> str:
    """The robot key, stripped; PermanentSendError when it is not shaped like one (nothing is sent)."""
    key = key.strip()
    if not _KEY.fullmatch(key):
        raise PermanentSendError("企业微信群机器人 key 格式不对（应是 8-4-4-4-12 位的字母和数字，只填 key=后面的部分）")
    return key


def split_content(text: str, *, limit: int = CONTENT_LIMIT_BYTES) -> list[str]:
    """The text as robot messages of at most limit UTF-8 bytes each, in order; a text that fits is one message, a
    longer one is cut at a line or sentence end where it can and each part marked "（i/n）"."""
    if len(text.encode("utf-8", "surrogatepass")) <= limit:
        return [text]
    budget = limit - _PART_MARK_BYTES
    bodies: list[str] = []
    rest = text
    while rest:
        cut = _fitting_chars(rest, budget)
        if cut < len(rest):
            soft = max(rest.rfind(mark, 0, cut) for mark in _BREAKS) + 1
            if soft > cut // 2:
                cut = soft
        bodies.append(rest[:cut])
        rest = rest[cut:]
    return [f"（{number}/{len(bodies)}）{body}" for number, body in enumerate(bodies, start=1)]


def _fitting_chars(text: str, budget: int) -> int:
    """How many leading characters of text fit in budget UTF-8 bytes (one at least)."""
    used = 0
    for index, char in enumerate(text):
        used += len(char.encode("utf-8", "surrogatepass"))
        if used > budget:
            return max(1, index)
    return len(text)
