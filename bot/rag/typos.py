"""Homophone typos in residents' questions (残疾正 → 残疾证, 申情 → 申请): pinyin and voice input produce them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from pypinyin import lazy_pinyin

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
# Sounds that many speakers do not tell apart (southern accents, and so their pinyin typing): zh/z, ch/c, sh/s,
# n/l, in/ing, en/eng.
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_FUZZY_FINALS = (("ing", "in"), ("eng", "en"))
_SPAN_LENGTHS = (4, 3, 2)


def sound(syllable: str) -> str:
    """A toneless pinyin syllable with the commonly confused sounds folded together."""
    for initial, folded in _FUZZY_INITIALS:
        if syllable.startswith(initial):
            syllable = folded + syllable[len(initial) :]
            break
    for final, folded in _FUZZY_FINALS:
        if syllable.endswith(final):
            return syllable[: -len(final)] + folded
    return syllable


class HomophoneCorrector:
    """Replaces a run of characters that is no word but sounds like a knowledge-base word sharing a character with it.

    Only spans that neither the knowledge base nor the general dictionary knows are touched, so a real word is
    never rewritten into a domain word that merely sounds alike; the shared character keeps unrelated homophones
    apart.
    """

    def __init__(
        self, targets: Iterable[str], seen: Iterable[str], is_word: Callable[[str], bool], function_chars: Iterable[str]
    ) -> None:
        """targets: the words a typo may be corrected to; seen: every word the knowledge base uses (never typos);
        function_chars: characters such as 是 and 的 that are words of their own."""
        self._seen = set(seen)
        self._function_chars = frozenset(function_chars)
        self._is_word = is_word
        self._by_sound: dict[tuple[str, ...], list[str]] = {}
        for word in sorted({w for w in targets if _CJK_RUN.fullmatch(w) and len(w) in _SPAN_LENGTHS}):
            self._by_sound.setdefault(_sounds(word), []).append(word)

    def correct(self, text: str) -> str:
        """The text with each homophone typo replaced by the knowledge-base word it sounds like."""
        return _CJK_RUN.sub(lambda run: self._correct_run(run.group()), text)

    def _correct_run(self, run: str) -> str:
        sounds = [sound(s) for s in lazy_pinyin(run)]
        if len(sounds) != len(run):
            return run
        out: list[str] = []
        i = 0
        while i < len(run):
            for n in _SPAN_LENGTHS:
                span = run[i : i + n]
                if len(span) < n:
                    continue
                if self._is_known(span):
                    out.append(span)
                    break
                # "去食堂" holds no typo of 去世: a real word begins inside the span.
                if any(self._starts_word(run, j) for j in range(i + 1, i + n)):
                    continue
                match = self._match(span, tuple(sounds[i : i + n]))
                if match is not None:
                    out.append(match)
                    break
            else:
                n = 1
                out.append(run[i])
            i += n
        return "".join(out)

    def _is_known(self, span: str) -> bool:
        return span in self._seen or self._is_word(span)

    def _starts_word(self, run: str, j: int) -> bool:
        return any(j + n <= len(run) and self._is_known(run[j : j + n]) for n in _SPAN_LENGTHS)

    def _match(self, span: str, key: tuple[str, ...]) -> str | None:
        """The one word sounding like span that shares the most characters with it in place (at least one)."""
        # "活动是几月份": a word followed by 是 or 的 is that word and a function word, not a typo of 活动室.
        if len(span) > 2 and span[-1] in self._function_chars and self._is_known(span[:-1]):
            return None
        scored = [(sum(a == b for a, b in zip(word, span, strict=True)), word) for word in self._by_sound.get(key, ())]
        scored = [(shared, word) for shared, word in scored if shared]
        if not scored:
            return None
        scored.sort(reverse=True)
        if len(scored) > 1 and scored[1][0] == scored[0][0]:
            return None
        return scored[0][1]


def _sounds(word: str) -> tuple[str, ...]:
    return tuple(sound(s) for s in lazy_pinyin(word))
