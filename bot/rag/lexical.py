"""Lexical side of hybrid retrieval: jieba with the knowledge base's own terms and synonyms, and a normalised BM25."""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TERMS_FILE = "_terms.txt"
SYNONYMS_FILE = "_synonyms.txt"

# Words that carry no topic in residents' questions; removing them keeps "你好" and "请问" from matching anything.
STOPWORDS = frozenset(
    line.strip()
    for line in (Path(__file__).parent / "resources" / "stopwords.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)
# Interrogatives fold to one form ("在哪" = "哪里") without counting as subjects of the knowledge base.
QUESTION_WORDS = {
    variant: words[0]
    for line in (Path(__file__).parent / "resources" / "question_words.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
    for words in [line.split()]
    for variant in words[1:]
}
_STOP_CHARS = frozenset(w for w in STOPWORDS if len(w) == 1)
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_TOKEN_OK = re.compile(r"[\w\u4e00-\u9fff]")
BIGRAM_MARK = "§"


def normalise_text(text: str) -> str:
    """Full-width to half-width, lower case, single spaces: what both indexing and queries see."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


@dataclass(frozen=True)
class Lexicon:
    """Domain words for segmentation and synonym groups (variant -> canonical), kept with the index."""

    terms: tuple[str, ...] = ()
    synonyms: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_directory(cls, root: Path, extra_terms: Iterable[str] = ()) -> Lexicon:
        """Read `_terms.txt` (one term a line) and `_synonyms.txt` (canonical word, then its variants) under root."""
        terms = list(extra_terms)
        synonyms: dict[str, str] = {}
        for line in _lines(root / TERMS_FILE):
            terms.extend(line.split())
        for line in _lines(root / SYNONYMS_FILE):
            words = [normalise_text(w) for w in line.replace(",", " ").replace("，", " ").split()]
            if len(words) < 2:
                continue
            terms.extend(words)
            for variant in words[1:]:
                synonyms.setdefault(variant, words[0])
        clean = sorted({normalise_text(t) for t in terms if len(t.strip()) >= 2})
        return cls(terms=tuple(clean), synonyms=synonyms)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form stored beside the index."""
        return {"terms": list(self.terms), "synonyms": self.synonyms}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lexicon:
        """Inverse of to_json."""
        return cls(terms=tuple(data.get("terms", ())), synonyms=dict(data.get("synonyms", {})))


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8-sig")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


_TITLE_SPLIT = re.compile(r"[和与及、“”\"'（）()《》\s·/]+")
_TITLE_SUFFIXES = ("服务指南", "使用说明", "办理指南", "申领指南", "借阅指南", "投放指南", "指南", "说明", "服务")


def title_terms(titles: Iterable[str]) -> list[str]:
    """Domain words from guide titles and categories: '残疾人两项补贴和残疾人证办理指南' -> 残疾人两项补贴, 残疾人证."""
    out: list[str] = []
    for title in titles:
        for part in _TITLE_SPLIT.split(title):
            for suffix in _TITLE_SUFFIXES:
                if part.endswith(suffix) and len(part) - len(suffix) >= 2:
                    part = part[: -len(suffix)]
                    break
            if 2 <= len(part) <= 8 and _CJK_RUN.fullmatch(part):
                out.append(part)
    return out


# jieba's tags of words that never name a subject: conjunction, adverb, pronoun, preposition, particle, modal,
# numeral, measure word, time word, direction, punctuation.
_FUNCTION_TAGS = ("c", "d", "r", "p", "u", "y", "e", "m", "q", "t", "f", "x", "ad")


class ChineseAnalyzer:
    """Turns text into search tokens: jieba search-mode words (synonyms folded) plus CJK character bigrams."""

    def __init__(self, lexicon: Lexicon, cache_dir: Path | None = None, bigrams: bool = True) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._tokenizer.tmp_dir = str(cache_dir)
        for term in (*lexicon.terms, *QUESTION_WORDS, *QUESTION_WORDS.values()):
            self._tokenizer.add_word(term)
        self._synonyms = {**QUESTION_WORDS, **lexicon.synonyms}
        self._bigrams = bigrams
        self._tagger: Any = None  # jieba's part-of-speech tagger over the same dictionary, built on first use

    def is_word(self, text: str) -> bool:
        """Whether jieba's dictionary (with the knowledge base's terms) holds text as a word."""
        frequency: int = self._tokenizer.FREQ.get(text, 0)
        return frequency > 0

    def content_words(self, text: str) -> list[str]:
        """The words of a text that carry its meaning, as jieba tags them: no conjunctions, adverbs, pronouns,
        prepositions, particles, numbers, measure or time words ("要是", "顺便", "下个月" are not a subject)."""
        if self._tagger is None:
            import jieba.posseg

            self._tagger = jieba.posseg.POSTokenizer(self._tokenizer)
        pairs = self._tagger.cut(normalise_text(text))
        return [pair.word for pair in pairs if not pair.flag.startswith(_FUNCTION_TAGS)]

    def tokens(self, text: str) -> list[str]:
        """Search tokens of a text (normalised, stopwords removed)."""
        text = normalise_text(text)
        words = [self._synonyms.get(w, w) for w in self._tokenizer.cut_for_search(text)]
        out = [w for w in words if w.strip() and w not in STOPWORDS and _TOKEN_OK.search(w)]
        if self._bigrams:
            # Character bigrams catch typos and unsegmented terms (干电赤 ~ 干电池); a bigram with a stopword
            # character in it (贴多, 话有, 的书) only adds noise.
            for run in _CJK_RUN.findall(text):
                grams = (run[i : i + 2] for i in range(len(run) - 1))
                out.extend(BIGRAM_MARK + g for g in grams if not (set(g) & _STOP_CHARS))
        return out


class BM25Index:
    """Okapi BM25 over an inverted index; scores are normalised to [0, 1] by the query's total IDF."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self._k1, self._b = k1, b
        self.size = len(documents)
        lengths = np.array([len(doc) for doc in documents], dtype=np.float32)
        average = float(lengths.mean()) if self.size else 1.0
        self._norm = k1 * (1 - b + b * lengths / max(average, 1e-6))
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for index, doc in enumerate(documents):
            for token, count in Counter(doc).items():
                ids, counts = postings.setdefault(token, ([], []))
                ids.append(index)
                counts.append(count)
        self._postings = {
            token: (np.array(ids, dtype=np.int32), np.array(counts, dtype=np.float32))
            for token, (ids, counts) in postings.items()
        }
        self._idf = {
            token: math.log(1 + (self.size - len(ids) + 0.5) / (len(ids) + 0.5)) for token, (ids, _) in postings.items()
        }
        self._max_idf = math.log(1 + (self.size + 0.5) / 0.5) if self.size else 1.0

    def knows(self, token: str) -> bool:
        """Whether any document contains the token."""
        return token in self._idf

    def scores(self, query: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Normalised scores of every document for the query tokens (unknown tokens count against coverage)."""
        scores = np.zeros(self.size, dtype=np.float32)
        total_idf = 0.0
        for token, weight in Counter(query).items():
            idf = self._idf.get(token)
            if idf is None:
                total_idf += self._max_idf * weight
                continue
            total_idf += idf * weight
            ids, counts = self._postings[token]
            scores[ids] += weight * idf * counts * (self._k1 + 1) / (counts + self._norm[ids])
        if total_idf <= 0:
            return scores
        normalised: np.ndarray[Any, np.dtype[np.float32]] = np.minimum(scores / total_idf, 1.0).astype(np.float32)
        return normalised
