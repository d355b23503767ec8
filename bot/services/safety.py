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

from bot.domain.errors import AssistantError

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

CHIT_CHAT_FILE = "_chitchat.txt"
EMOJI_REPLY = "您好，请问有什么需要帮忙的？请用文字告诉我。"
# Punctuation, emoji and spaces (anything but letters, digits and Chinese characters) and tone particles are left out
# when a message is compared with the list, so "谢谢啊～🙏" reads as 谢谢.
_NOT_WORDS = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
_PARTICLES = re.compile(r"[啊呀哦噢喔呢吧啦嘛哇]+")
_REPEATS = re.compile(r"(.)\1+")
_KIND_LINE = re.compile(r"^\[([a-z_]+)\]\s*(\S.*)$")


@dataclass(frozen=True, slots=True)
class SmallTalk:
    """A greeting, thanks, closing or stray message, and the short reply it gets."""

    kind: str
    reply: str


class ChitChatFileError(AssistantError):
    """The chit-chat list is malformed; the message names the line."""


@dataclass(frozen=True, slots=True)
class _Kind:
    name: str
    reply: str
    phrases: tuple[str, ...]


class ChitChat:
    """The staff-edited list of chit-chat (`knowledge/_chitchat.txt`): a whole message made only of its phrases gets
    the short reply of its kind, never a knowledge hit and never the staff queue. Matching ignores punctuation, emoji,
    repeated characters and tone particles (啊/呀/哦…); any other word in the message makes it a real message."""

    def __init__(self, kinds: Iterable[tuple[str, str, Iterable[str]]]) -> None:
        self._kinds = tuple(
            _Kind(name, reply, tuple(sorted({p for p in map(_core, phrases) if p}, key=len, reverse=True)))
            for name, reply, phrases in kinds
        )
        self._phrases = sorted({p for kind in self._kinds for p in kind.phrases}, key=len, reverse=True)

    @classmethod
    def from_directory(cls, root: Path) -> ChitChat:
        """Load `_chitchat.txt` from the knowledge directory (an absent file: only emoji-only messages are chat)."""
        path = root / CHIT_CHAT_FILE
        if not path.is_file():
            return cls(())
        return cls.parse(path.read_text(encoding="utf-8-sig"), path.name)

    @classmethod
    def parse(cls, text: str, name: str = CHIT_CHAT_FILE) -> ChitChat:
        """Read the list: a line "[kind] reply" opens a kind, each following line is one phrase of it."""
        kinds: list[tuple[str, str, list[str]]] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            header = _KIND_LINE.match(line)
            if header is not None:
                kinds.append((header.group(1), header.group(2).strip(), []))
            elif line.startswith("["):
                raise ChitChatFileError(f"{name} 第 {number} 行应为“[英文类名] 回复”，例如“[thanks] 不客气”")
            elif not kinds:
                raise ChitChatFileError(f"{name} 第 {number} 行之前还没有“[类名] 回复”行")
            else:
                kinds[-1][2].append(line)
        return cls(kinds)

    def recognise(self, text: str) -> SmallTalk | None:
        """The kind and reply of a whole message that is only chit-chat (or only emoji), else None."""
        if not has_content(unicodedata.normalize("NFKC", text)):
            return SmallTalk("emoji", EMOJI_REPLY)
        core = _core(text)
        if not _covered(core, self._phrases):
            return None
        # "你好，谢谢" is thanks: the kinds are tried in the list's order.
        for kind in self._kinds:
            if any(phrase in core for phrase in kind.phrases):
                return SmallTalk(kind.name, kind.reply)
        return None


def _core(text: str) -> str:
    """What is compared with the list: no punctuation or emoji, no tone particles, no repeated characters."""
    words = _NOT_WORDS.sub("", unicodedata.normalize("NFKC", text).lower())
    # "哦哦" alone is an acknowledgement: particles go only when something else remains.
    words = _PARTICLES.sub("", words) or words
    return _REPEATS.sub(r"\1", words)


def _covered(text: str, phrases: list[str]) -> bool:
    """Whether text is made only of the given phrases ("你好你好", "谢谢辛苦了"), in any split of it."""
    if not text:
        return False
    reached = [True] + [False] * len(text)
    for start in range(len(text)):
        if reached[start]:
            for phrase in phrases:
                if text.startswith(phrase, start):
                    reached[start + len(phrase)] = True
    return reached[-1]
