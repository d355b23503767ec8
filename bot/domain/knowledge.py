"""Plain values of the knowledge base: entries staff write, the chunks we index, the hits retrieval returns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class EntryKind(StrEnum):
    """What kind of knowledge an entry is; decides how it is indexed and quoted."""

    FAQ = "faq"
    GUIDE = "guide"
    DOCUMENT = "document"


@dataclass(frozen=True, slots=True)
class Section:
    """One headed part of a guide or document."""

    heading: str
    text: str


@dataclass(frozen=True, slots=True)
class KnowledgeEntry:
    """One citable unit staff maintain: a FAQ entry (question + answer) or a guide/document with sections."""

    id: str
    kind: EntryKind
    title: str
    category: str
    source: str
    updated: str
    file: str
    community: str = ""
    questions: tuple[str, ...] = ()
    answer: str = ""
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """What is embedded and indexed: one FAQ phrasing or one bounded piece of a section."""

    chunk_id: str
    entry_id: str
    kind: EntryKind
    title: str
    section: str
    source: str
    updated: str
    category: str
    file: str
    text: str
    content: str
    community: str = ""


@dataclass(frozen=True, slots=True)
class RetrievalHit:
    """One knowledge entry found for a query, with the chunk that matched best and its scores."""

    entry_id: str
    kind: EntryKind
    title: str
    section: str
    source: str
    updated: str
    matched_text: str
    content: str
    score: float
    dense_score: float
    lexical_score: float
    chunk_id: str


@dataclass(frozen=True, slots=True)
class FileFailure:
    """A knowledge file that could not be ingested, and why (in Chinese, for staff)."""

    file: str
    reason: str


# Bump when the way the decision is calibrated changes, so the next ingest calibrates again.
CALIBRATION_VERSION = 1


@dataclass(frozen=True, slots=True)
class Calibration:
    """The answer decision fitted to one knowledge base when it was ingested (README, "How refusal is calibrated").

    The threshold sits just above what the knowledge base's own hardest non-answers reach: the shipped background of
    off-topic questions, and each entry's own question asked with that entry left out (an in-domain question the
    knowledge base does not cover). `background_answered` and `uncovered_answered` are the shares of each that would
    still be answered at the threshold.
    """

    threshold: float
    margin_weight: float
    agreement_bonus: float
    followup_threshold: float
    background_answered: float
    uncovered_answered: float
    background_questions: int
    uncovered_questions: int
    seconds: float = 0.0
    version: int = CALIBRATION_VERSION

    def to_json(self) -> dict[str, float]:
        """The stored form (kept with the index generation)."""
        return {name: float(getattr(self, name)) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: object) -> Calibration | None:
        """The stored form read back; None when absent, malformed or made by another calibration version."""
        if not isinstance(data, dict) or data.get("version") != CALIBRATION_VERSION:
            return None
        try:
            return cls(
                threshold=float(data["threshold"]),
                margin_weight=float(data["margin_weight"]),
                agreement_bonus=float(data["agreement_bonus"]),
                followup_threshold=float(data["followup_threshold"]),
                background_answered=float(data["background_answered"]),
                uncovered_answered=float(data["uncovered_answered"]),
                background_questions=int(data["background_questions"]),
                uncovered_questions=int(data["uncovered_questions"]),
                seconds=float(data.get("seconds", 0.0)),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(slots=True)
class IngestReport:
    """What one ingestion run did."""

    files_total: int = 0
    files_added: list[str] = field(default_factory=list)
    files_updated: list[str] = field(default_factory=list)
    files_unchanged: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)
    chunks_total: int = 0
    chunks_embedded: int = 0
    rebuilt: bool = False
    seconds: float = 0.0
    calibration: Calibration | None = None

    @property
    def changed(self) -> bool:
        """Whether the index was rewritten."""
        return bool(self.files_added or self.files_updated or self.files_removed or self.rebuilt)


# What makes a staff answer about one case rather than a rule every resident can rely on. Each sign is a pattern and
# the short Chinese words the console shows; a general answer ("每月15号发放，到社区服务站申请") matches none.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范"
    "金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_TITLES = "师傅|主任|书记|经理|阿姨|大爷|大妈|老师|干部|同志|科长|站长|队长|先生|女士|姐|哥"
# A time of day or a date said with one of these is a timetable ("每晚22点锁门", "工作日9点开门"), not an appointment.
_RECURRING = re.compile(r"每|工作日|周[一二三四五六日]\s*[至到-]|节假日|平时|通常|一般|开放|办公|营业|开门|关门|锁门")
_CLOCK_TIME = re.compile(r"\d{1,2}\s*(?:点|时(?!间)|[:：]\d{2})")
_DATE = re.compile(r"\d{1,2}\s*月\s*\d{1,2}\s*[日号]")
_CASE_SIGNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"今天|今日|今早|今晚|明天|明日|明早|明晚|后天|昨天|刚才|刚刚|本周|这周|下周|这两天"),
        "说的是哪天的安排",
    ),
    (
        re.compile(
            r"已经?(?:通知|派|安排|联系|转告|转交|转给|反映|上报|处理|记录|登记|修好|修复|清走|清理|协调|催|报修|核实)(?!的)"
        ),
        "说的是已经为这件事做了什么",
    ),
    (re.compile(r"(?:我们|我)(?:马上|这就|已|正在|去)"), "是对这一次的承诺"),
    (re.compile(r"您(?:反映的|说的|的情况|这个|这件|那件)"), "说的是这位居民自己的事"),
    (
        re.compile(r"(?<!\d)20\d{2}-0\d{3}(?!\d)|(?:编号|工单号|单号|案件号)\s*[:：]?\s*[\w-]{3,}", re.ASCII),
        "带着案件编号",
    ),
    (
        re.compile(r"\d+\s*(?:号楼|栋|幢|座)\s*(?:\d+\s*单元)?\s*\d{3,4}|\d+\s*单元\s*\d{3,4}|\d{3,4}\s*室"),
        "提到了房号",
    ),
    (re.compile(f"[{_SURNAMES}](?:{_TITLES})|(?<![大])[小老][{_SURNAMES}](?![序层于年时高区])"), "提到了具体的人"),
)


def case_specific_signs(answer: str) -> tuple[str, ...]:
    """Why a staff answer reads as about one case (a promise, a date, a room, a person), or () when it is general."""
    signs = [words for pattern, words in _CASE_SIGNS if pattern.search(answer)]
    if not _RECURRING.search(answer):
        if _DATE.search(answer):
            signs.append("提到了具体日期")
        elif _CLOCK_TIME.search(answer):
            signs.append("提到了具体时间")
    return tuple(signs)
