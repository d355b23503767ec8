"""Guards around every message: input limits, sensitive words (in and out), injection attempts, small talk."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

SENSITIVE_WORDS_FILE = "_sensitive_words.txt"
_SEPARATORS = re.compile(r"[\s\W_]+", re.UNICODE)


class SensitiveWords:
    """The staff-edited word list; matching ignores case, width and separators put between characters."""

    def __init__(self, words: Iterable[str]) -> None:
        normalised = sorted({_squash(w) for w in words if _squash(w)}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, normalised))) if normalised else None

    @classmethod
    def from_directory(cls, root: Path) -> SensitiveWords:
        """Load `_sensitive_words.txt` from the knowledge directory (an absent file means no words)."""
        path = root / SENSITIVE_WORDS_FILE
        if not path.is_file():
            return cls(())
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        return cls(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))

    def find(self, text: str) -> list[str]:
        """The listed words present in text, each once."""
        if self._pattern is None:
            return []
        return list(dict.fromkeys(self._pattern.findall(_squash(text))))


def _squash(text: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).lower())


class FlaggedMessageLog(Protocol):
    """Where messages staff must see are recorded (sensitive words, injection attempts)."""

    def record(self, *, group_id: str, user_id: str, text: str, reason: str, at: datetime) -> None:
        """Store one flagged message (text already masked)."""


class JsonlFlaggedMessageLog:
    """Flagged messages appended to a JSON Lines file (the database takes this over with the channel)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def record(self, *, group_id: str, user_id: str, text: str, reason: str, at: datetime) -> None:
        """Append one masked record."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        row = {"at": at.isoformat(), "group": group_id, "user": user_id, "reason": reason, "text": text}
        with self._path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- input limits

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd\u2028\u2029]")
_INVISIBLE = re.compile(r"[\ufeff\u200b-\u200f\u202a-\u202e\u2060-\u206f]")
_HAS_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")


def clean_text(text: str) -> str:
    """Drop control characters, replacement characters and zero-width marks; collapse spaces."""
    text = _CONTROL.sub(" ", _INVISIBLE.sub("", text))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in {"Co", "Cs", "Cn"})
    return re.sub(r"[^\S\n]+", " ", text).strip()


def has_content(text: str) -> bool:
    """Whether text holds any letter, digit or Chinese character (not only punctuation or emoji)."""
    return bool(_HAS_CONTENT.search(text))


# ---------------------------------------------------------------- prompt injection

_INJECTION = re.compile(
    r"(忽略|无视|忘记|忘掉|跳过).{0,8}(指令|指示|规则|提示|设定|要求|限制)"
    r"|(你现在是|你现在扮演|假装你是|扮演一个|你的新身份)"
    r"|(系统提示|system\s*prompt|prompt|越狱|jailbreak|developer\s*mode)"
    r"|(以管理员|作为管理员|管理员身份|管理员权限)"
    r"|群发|(给|向|到)(所有|全部|每个|各个|各)(群|居民|住户|人)|(发|推送|发布)(一条|一个|个|条)(通知|公告)",
    re.IGNORECASE,
)


def looks_like_injection(text: str) -> bool:
    """Whether a resident's message tries to change the assistant's instructions or make it act."""
    return bool(_INJECTION.search(text))


# ---------------------------------------------------------------- small talk


@dataclass(frozen=True, slots=True)
class SmallTalk:
    """A greeting, thanks or acknowledgement, and the short reply it gets."""

    kind: str
    reply: str


_SMALL_TALK: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "greeting",
        "您好！我是社区小助手，社区办事、补贴、物业、垃圾分类这些问题都可以问我。",
        (
            "你好",
            "您好",
            "hello",
            "hi",
            "嗨",
            "哈喽",
            "在吗",
            "在不在",
            "在么",
            "有人吗",
            "有人在吗",
            "小助手",
            "早上好",
            "早",
            "早安",
            "中午好",
            "下午好",
            "晚上好",
            "晚安",
            "大家好",
            "请问",
            "打扰了",
            "打扰一下",
        ),
    ),
    (
        "thanks",
        "不客气，有需要随时问我。",
        (
            "谢谢",
            "谢谢你",
            "谢谢您",
            "多谢",
            "感谢",
            "谢啦",
            "谢了",
            "辛苦了",
            "辛苦",
            "麻烦了",
            "thanks",
            "thank you",
            "thx",
            "好的谢谢",
            "收到谢谢",
            "明白了谢谢",
            "知道了谢谢",
        ),
    ),
    (
        "acknowledge",
        "好的，有问题随时找我。",
        (
            "好的",
            "好",
            "好滴",
            "收到",
            "知道了",
            "明白",
            "明白了",
            "了解",
            "嗯",
            "嗯嗯",
            "哦",
            "哦哦",
            "ok",
            "okay",
            "行",
            "可以",
            "哈哈",
            "哈哈哈",
            "呵呵",
            "嘿嘿",
            "再见",
            "拜拜",
            "88",
            "没事了",
        ),
    ),
)
_PARTICLES = re.compile(r"[啊呀哈哦噢呢吧啦嘛么~～!！。.,，?？\s]+")


def small_talk(text: str) -> SmallTalk | None:
    """Recognise a whole message that is only greetings, thanks, acknowledgements or emoji."""
    if not has_content(text):
        return SmallTalk("emoji", "您好，请问有什么需要帮忙的？请用文字告诉我。")
    core = _PARTICLES.sub("", unicodedata.normalize("NFKC", text).lower())
    every_phrase = [phrase for _, _, phrases in _SMALL_TALK for phrase in phrases]
    if not _covered(core, every_phrase):
        return None
    # "你好，谢谢" is thanks: the kinds are tried in order thanks, greeting, acknowledgement.
    for kind in ("thanks", "greeting", "acknowledge"):
        reply, phrases = next((r, p) for k, r, p in _SMALL_TALK if k == kind)
        if any(phrase in core for phrase in phrases):
            return SmallTalk(kind, reply)
    return None


def _covered(text: str, phrases: list[str]) -> bool:
    """Whether text is made only of the given phrases ("你好你好", "谢谢辛苦了")."""
    if not text:
        return False
    ordered = sorted(phrases, key=len, reverse=True)
    position = 0
    while position < len(text):
        step = next((len(p) for p in ordered if text.startswith(p, position)), 0)
        if not step:
            return False
        position += step
    return True
