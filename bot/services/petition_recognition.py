"""Recognising a petition (诉求) in a resident's message, and its category: rules plus the embedding model, offline.

A message is an explicit petition when it starts with a trigger ("报事 …", "#诉求 …", "我要反映…", "投诉…"); an
implicit one when it reads as a complaint or report (the resident is then asked to confirm); otherwise none, and it
is answered as before. A question about how to get a service ("高龄补贴怎么申请", "灭火器过期了找谁换") is not a
petition, even when it tells of a problem; urging a fix ("请问…为什么还不修") is.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from bot.domain.errors import AssistantError
from bot.domain.open311 import service_code, valid_service_code
from bot.domain.petitions import PetitionCategory, Recognition, RecognitionKind
from bot.rag.embeddings import embed_array
from bot.rag.lexical import STOPWORDS, normalise_text
from bot.services.safety import ChitChat, has_content

Vector = np.ndarray[Any, np.dtype[np.float32]]

PROTOTYPES_FILE = Path(__file__).parent / "resources" / "petition_prototypes.txt"


class PetitionCategoriesError(AssistantError):
    """A petition category file that cannot be used; the message names the file and what is wrong."""


# ---------------------------------------------------------------- category files


def load_categories(path: Path | str) -> list[PetitionCategory]:
    """Read a category file: JSON, either {name: description} or a list of {name, description, examples} with
    optional code (the stable ASCII code outside systems use, Open311's service_code; derived from the name when
    missing) and, for routing, department, deadline_hours and urgent_deadline_hours."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise PetitionCategoriesError(f"诉求分类文件不存在：{path}") from None
    except (OSError, UnicodeDecodeError):
        raise PetitionCategoriesError(f"诉求分类文件无法读取（应为 UTF-8 编码的 JSON）：{path}") from None
    except json.JSONDecodeError as exc:
        raise PetitionCategoriesError(f"诉求分类文件不是有效的 JSON（第 {exc.lineno} 行）：{path}") from None
    if isinstance(data, dict):
        rows: list[Any] = [{"name": name, "description": text} for name, text in data.items()]
    elif isinstance(data, list):
        rows = data
    else:
        raise PetitionCategoriesError(f"诉求分类文件应为“分类: 说明”的对象或分类列表：{path}")
    categories = [_category(row, number, path) for number, row in enumerate(rows, start=1)]
    if not categories:
        raise PetitionCategoriesError(f"诉求分类文件里没有分类：{path}")
    names = [c.name for c in categories]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise PetitionCategoriesError(f"诉求分类重复：{'、'.join(repeated)}（{path}）")
    codes = [service_code(c) for c in categories]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise PetitionCategoriesError(f"诉求分类代码重复：{'、'.join(repeated)}（{path}）")
    return categories


def _category(row: Any, number: int, path: Path) -> PetitionCategory:
    if not isinstance(row, dict):
        raise PetitionCategoriesError(f"诉求分类文件第 {number} 个分类格式不对，应有 name 和 description：{path}")
    name, description, examples = row.get("name"), row.get("description", ""), row.get("examples", [])
    if not isinstance(name, str) or not name.strip():
        raise PetitionCategoriesError(f"诉求分类文件第 {number} 个分类缺少名称：{path}")
    if not isinstance(description, str):
        raise PetitionCategoriesError(f"诉求分类“{name}”的说明应为文字：{path}")
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        raise PetitionCategoriesError(f"诉求分类“{name}”的例句应为文字列表：{path}")
    code = row.get("code", "")
    if not isinstance(code, str) or (code and not valid_service_code(code)):
        raise PetitionCategoriesError(f"诉求分类“{name}”的代码只能是 1 到 32 个英文字母、数字、- 或 _：{path}")
    department = row.get("department", "")
    if not isinstance(department, str):
        raise PetitionCategoriesError(f"诉求分类“{name}”的承办部门应为文字：{path}")
    deadline = _hours(row, "deadline_hours", _DEFAULT_DEADLINE_HOURS, name, path)
    urgent = _hours(row, "urgent_deadline_hours", min(deadline, _DEFAULT_URGENT_HOURS), name, path)
    if urgent > deadline:
        raise PetitionCategoriesError(f"诉求分类“{name}”紧急诉求的期限不能比一般诉求长：{path}")
    return PetitionCategory(
        name.strip(),
        description.strip(),
        tuple(e.strip() for e in examples if e.strip()),
        department=" ".join(department.split()),
        deadline_hours=deadline,
        urgent_deadline_hours=urgent,
        code=code,
    )


# A category file that gives no deadline: five days, an urgent case one day.
_DEFAULT_DEADLINE_HOURS = 120
_DEFAULT_URGENT_HOURS = 24


def _hours(row: dict[str, Any], field: str, default: int, name: str, path: Path) -> int:
    """A deadline field of a category, in whole hours (1 to 90 days)."""
    value = row.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 24 * 90:
        raise PetitionCategoriesError(f"诉求分类“{name}”的 {field} 应为 1 到 2160 之间的整数小时：{path}")
    return value


# ---------------------------------------------------------------- rules

# An explicit trigger at the start of the message; the rest is the petition's text.
_TRIGGER = re.compile(
    r"^[\s\W]*(?:[#＃]\s*诉求|(?:我(?:要|想))?(?:报事|反映|投诉|举报)(?:一下|个|一个)?(?:问题|情况)?)"
    r"[\s:：,，。.!！、\-—]*"
)
# Complaint cues, by kind; a message showing several kinds reads more like a complaint.
_COMPLAINT_CUES: dict[str, re.Pattern[str]] = {
    kind: re.compile(cue)
    for kind, cue in {
        "broken": (
            r"坏了|坏掉|坏的|损坏|破损|破了|碎了|裂了|裂缝|塌了|塌陷|脱落|掉下来|往下掉|松了|松动|不亮|失灵|故障|卡住|卡在"
            r"|停了|停用|停水|停电|停气|没水|没电|断水|断电|漏水|漏雨|渗水|滴水|爆了|堵了|堵死|堵塞|不通|反水|冒水|往外冒"
            r"|积水|淹了|发霉|长毛|没反应|打不开|关不上|刷不开|上不来|不热|发黄|年久失修"
        ),
        "dirty": (
            r"臭|异味|脏|苍蝇|蚊子|老鼠|蟑螂|污水|黑水|狗屎|粪|烟头|油烟|粉尘|扬尘|污染|排污|排放|乱扔|乱倒|堆满|满了|溢出"
            r"|垃圾.{0,6}(?:没人|没有人|不)(?:清|收|扫|管)"
        ),
        "noise": r"噪音|噪声|吵|扰民|太响|嗡嗡|咚咚|睡不着|没法睡|不让人休息|装修|施工|打桩|电钻|砸墙|半夜|深夜|凌晨",
        "disorder": (
            r"乱停|乱放|乱摆|乱贴|乱搭|乱建|乱收|乱要|乱开|乱涨|乱象|占道|占用|占着|堵着|挡着|挡住|私搭|私建|私设|私自|擅自"
            r"|违建|违章|飞线|群租|圈起来|不拴"
        ),
        "wrongdoing": (
            r"违规|违法|违反|非法|无证|黑幕|暗箱|走后门|优亲厚友|腐败|失职|渎职|不作为|乱作为|推诿|推来推去|敷衍|刁难"
            r"|态度(?:太|很|极|特别)?(?:差|恶劣|不好|冷漠)|拖欠|欠薪|克扣|不给|不退|退不回|缺斤短两|虚假|欺骗|骗|坑|强制|强迫"
            r"|强行|逼|不公|不合理|不达标|不合格|质量差|太差|差劲|一塌糊涂|超标|超载|偷排|偷工减料"
        ),
        "neglect": (
            r"没人(?:管|理|修|来|清|收|扫|接|问|换)|没见好|不见好|不管|不理|不修|不来|不接|不办事|打不通|没着落|没回音|没下文"
        ),
        "lasting": (
            r"好几天|好多天|好久|几个月|一个多月|[一二两三四五六七八九十几半\d]+(?:天|周|个月|个礼拜|个星期|年)(?:了|都|还|没)"
            r"|又|天天|每天|每晚|成天|整天|一天到晚|从早到晚|三天两头|总是|老是|一直|反复|好几次|多次|至今|到现在|迟迟"
        ),
        # A matter named as a problem, as a petition's title reads ("关于…的问题", "…问题很多"), or a broken promise.
        "issue": (
            r"^关于.{2,}(?:问题|情况|意见|追问|现象|报告|请示)$|(?<![个有])问题$"
            r"|问题(?:好多|很多|太多|不少|成堆|严重|突出|频发)|猫腻|内定|没兑现|不兑现"
        ),
        "harm": (
            r"危险|隐患|差点|出事|砸到|砸在|摔|绊倒|下不了楼|爬不上|出不去|进不去|进不来|过不去|没法|受不了|严重|苦不堪言"
        ),
    }.items()
}
# Urging or requesting that something be done, or challenging what was done: a petition even when phrased as a
# question ("请问…为什么还不修", "…合理吗").
_URGE = re.compile(
    r"请(?!问)(?:你们|物业|社区|有关部门|相关部门|领导)?.{0,6}(?:尽快|赶紧|抓紧|马上|及时|立即|加快)"
    r"|(?:尽快|赶紧|抓紧|马上|及时|立即).{0,4}(?:修|处理|解决|清|来|派人|整改|查处|管)"
    r"|请(?!问).{0,10}(?:处理|解决|修理|维修|清理|查处|整治|管一管|管管|重视|调查|落实|派人|整改|取缔|彻查|严查|恢复|取消)"
    r"|希望.{0,20}(?:解决|处理|管|整治|重视|改善|增加|增设|加装|组织|加快|完善)"
    r"|建议|呼吁|恳请|提请|强烈要求|要求.{0,10}(?:处理|解决|赔偿|整改|退)|请求|急盼|盼|有待|亟待|亟需|需要(?:完善|改进|整治|加强)"
    r"|麻烦.{0,10}(?:处理|修|看看|看一下|管|来)"
    r"|(?:能不能|能否|可不可以).{0,6}(?:来|派人|帮忙)?(?:修|处理|清理|管一管|管管)"
    r"|有没有人管|有人管吗|管不管|到底(?:有没有人|什么时候)"
    r"|(?:为什么|为何|为啥|怎么|咋)(?:.{0,12}(?:还不|还没|一直不|一直没|不来|不修|不管|没人)|这么(?:久|慢))"
    r"|什么时候(?:才|能)?(?:修|处理|解决|能好|好|来人|清)|何时(?:才|回复|解决|处理|落实)|还让不让人|给个说法|讨个?说法"
    r"|做主|维权|合理吗|合法吗|合规吗|凭什么|该不该|难道"
    r"|(?:万一|要是|出了事|出事|掉下去|掉进去|砸到人|伤到人).{0,10}(?:怎么办|咋办|谁负责|谁来负责)"
)
# Asking how, where, when or from whom to get a service.
_ASK = re.compile(
    r"(?:怎么|怎样|如何|咋)(?:申请|办|弄|交|缴|领|查|操作|用|算|扔|分|报|登记|预约|处理|通|修|换|补|联系|转|认证|走|整)"
    r"|怎么办|咋办|咋整|在哪|去哪(?!了)|到哪|哪里|哪儿|哪块|哪个(?:部门|窗口|单位|电话|桶|app)|找谁|找哪|归谁|归哪|谁负责|谁管"
    r"|打(?:什么|啥|哪个)(?:电话|号码)|电话(?:是)?多少|几点|几号|哪天|什么时候(?:开|发|交|办|到账|开始|收|能办)|啥时候"
    r"|多长时间|多久|需要(?:带)?(?:什么|啥)|要带(?:啥|什么)|准备(?:啥|什么)|什么材料|哪些|流程|手续|多少钱|收不收|要钱不"
    r"|收费吗|该(?:怎么|咋|先)|咨询|请问|想问|问一下|问问"
)
# Any other question: a question word, an A-not-A form or a question mark.
_QUESTION = re.compile(
    r"什么|啥|哪(?!去了|了)|(?<![好这那])几(?![十百千万户天个年次])|几天(?:能|回|给|就)|多少|怎么|怎样|如何|咋|谁|是否|可否"
    r"|有无|(.)不\1|有没有(?!人)|够不够|还是(?:先|要|得|去|找|打)|"
    r"(?:吗|么|嘛|伐|不|没|呢|没有)[呀啊哦嘞咯嘛]*(?:[?？]|[,，。.!！\s]|$)|[?？]"
)
# Passing on a notice or a plan ("物业通知明天停水"): news, not a complaint.
_NOTICE = re.compile(r"通知|公告|温馨提示|计划|保养|检修|提前(?:准备|储水|接水|安排)|大家注意|请大家")
# Where the matter is: a building or a part of the compound, or a public body.
_PLACE = re.compile(
    r"\d+\s*(?:号楼|栋|幢|单元|楼|层|室)|[一二三四五六七八九十]+(?:号楼|栋|幢|单元)|小区|楼道|楼梯|楼上|楼下|楼顶|顶楼"
    r"|隔壁|对门|对面|邻居|地库|车库|车棚|电梯里|门口|路口|马路|大门|东门|西门|南门|北门|广场|花坛|绿化带|院子|过道|走廊"
)
_PUBLIC_BODY = re.compile(
    r"(?<![超城地景社小])(?:省|市|县|区|镇|乡)(?![场民长区里面内外容])|村(?!里)|街道|政府|(?<![结格布大骗饭牌赌开当])局"
    r"|厅|委员会|公司|集团|学校|[小中大]学|幼儿园|医院|卫生院|诊所|工厂|工地|开发商"
)


@dataclass(frozen=True, slots=True)
class RecognitionWeights:
    """How the petition score combines the rule cues and the embedding's lean (a logistic score; the message is an
    implicit petition at 0.5 or more). Tuned on eval/petitions_dev.jsonl and the external tuning set with every
    development and held-out service question kept `none` (see README, "Recognising a petition")."""

    bias: float = -2.5
    complaint: float = 1.5  # per kind of complaint shown, up to three
    urge: float = 4.0
    place: float = 1.0
    body: float = 2.0
    ask: float = 3.0
    question: float = 5.0
    notice: float = 1.0
    short: float = 3.0
    embedding: float = 20.0  # times (petition prototypes' similarity - other prototypes'), each a top-k mean
    neighbours: int = 5


@dataclass(frozen=True, slots=True)
class CategoryWeights:
    """How a category's score combines its description, examples, listed terms and shared words."""

    description: float = 0.5
    examples: float = 1.0
    terms: float = 1.0
    words: float = 0.02


@dataclass(frozen=True, slots=True)
class _CategoryModel:
    """One category embedded: its description, its examples and each term its description lists (as "关于…的问题"),
    and the character pairs of its name and terms with their weights."""

    name: str
    description: Vector
    examples: Vector | None
    terms: Vector
    pairs: dict[str, float]


@dataclass(frozen=True, slots=True)
class _Models:
    """What the recogniser computes once: the prototypes' vectors, the word list and the category models."""

    petitions: Vector
    others: Vector
    words: _ContentWords
    categories: list[_CategoryModel]


class PetitionRecogniser:
    """Tells petitions from questions and chatter, and picks a petition's category; no I/O beyond its inputs."""

    def __init__(
        self,
        embeddings: Embeddings,
        categories: Sequence[PetitionCategory],
        *,
        weights: RecognitionWeights | None = None,
        category_weights: CategoryWeights | None = None,
        prototypes_file: Path = PROTOTYPES_FILE,
        message_vector: Callable[[str], Vector] | None = None,
        chit_chat: ChitChat | None = None,
    ) -> None:
        if not categories:
            raise PetitionCategoriesError("诉求分类不能为空")
        self._embeddings = embeddings
        # A normalised message's vector; the application passes retrieval's (QuestionVectors.of), so a message both
        # read is embedded once.
        self._message_vector = message_vector or self._embed_alone
        self._weights = weights or RecognitionWeights()
        self._category_weights = category_weights or CategoryWeights()
        self._category_list = tuple(categories)
        self._prototypes_file = prototypes_file
        self._loaded: _Models | None = None
        self._loading = threading.Lock()
        # The staff's chit-chat list: "谢谢", "好的" are never petitions (without it, only emoji-only messages).
        self._chit_chat = chit_chat or ChitChat(())

    @property
    def categories(self) -> tuple[PetitionCategory, ...]:
        """The categories staff defined, in their order."""
        return self._category_list

    @property
    def category_names(self) -> tuple[str, ...]:
        """The names of the categories staff defined, in their order."""
        return tuple(category.name for category in self._category_list)

    def prepare(self) -> None:
        """Embed the prototypes and categories and load the word list (1–3 s), once; recognise() does it on first
        use otherwise."""
        self._models()

    def _models(self) -> _Models:
        with self._loading:
            if self._loaded is None:
                petitions, others = _read_prototypes(self._prototypes_file)
                self._loaded = _Models(
                    embed_array(self._embeddings, petitions),
                    embed_array(self._embeddings, others),
                    _ContentWords(),
                    self._category_models(self._category_list),
                )
            return self._loaded

    def _category_models(self, categories: Sequence[PetitionCategory]) -> list[_CategoryModel]:
        terms = [_listed_terms(c) for c in categories]
        pairs = [
            {p for word in (c.name, *listed) for p in _pairs(word)} for c, listed in zip(categories, terms, strict=True)
        ]
        # A character pair found in fewer categories' terms says more (log(N / categories holding it) + 0.5).
        spread = {p: sum(1 for held in pairs if p in held) for held in pairs for p in held}
        n = len(categories)
        return [
            _CategoryModel(
                c.name,
                embed_array(self._embeddings, [c.description or c.name])[0],
                embed_array(self._embeddings, list(c.examples)) if c.examples else None,
                embed_array(self._embeddings, [f"关于{t}的问题" for t in listed]),
                {p: math.log(n / spread[p]) + 0.5 for p in held},
            )
            for c, listed, held in zip(categories, terms, pairs, strict=True)
        ]

    def embed(self, text: str) -> Vector:
        """The message's unit sentence vector, as recognise() and categorise() compute it; a caller that has it
        already can pass it to both."""
        return self._message_vector(normalise_text(text))

    def _embed_alone(self, text: str) -> Vector:
        vector: Vector = embed_array(self._embeddings, [text])[0]
        return vector

    def recognise(self, text: str, vector: Vector | None = None) -> Recognition:
        """Explicit, implicit or no petition, with the likeliest category of a petition."""
        shown = " ".join(text.split())
        clean = normalise_text(shown)
        if not has_content(clean) or self._chit_chat.recognise(clean) is not None:
            return Recognition(RecognitionKind.NONE, "", 0.0, shown)
        rest = explicit_petition(shown)
        if rest is not None:
            return Recognition(RecognitionKind.EXPLICIT, self.categorise(rest) if has_content(rest) else "", 1.0, rest)
        if vector is None:
            vector = self.embed(clean)
        score = self._score(clean, vector)
        if score < 0.5:
            return Recognition(RecognitionKind.NONE, "", round(score, 4), shown)
        # 1.0 is an explicit petition's; a sure implicit one stays just below it.
        sure = min(round(score, 4), 0.9999)
        return Recognition(RecognitionKind.IMPLICIT, self.categorise(clean, vector), sure, shown)

    def _score(self, text: str, vector: Vector) -> float:
        """The petition score in [0, 1]: a logistic combination of the rule cues and the embedding's lean."""
        w = self._weights
        cues = _cues(text)
        models = self._models()
        lean = _top_mean(models.petitions @ vector, w.neighbours) - _top_mean(models.others @ vector, w.neighbours)
        z = (
            w.bias
            + w.complaint * min(cues["complaint"], 3)
            + w.urge * cues["urge"]
            + w.place * cues["place"]
            + w.body * cues["body"]
            - w.ask * cues["ask"]
            - w.question * cues["question"]
            - w.notice * cues["notice"]
            - w.short * cues["short"]
            + w.embedding * lean
        )
        return 1.0 / (1.0 + math.exp(-z))

    def categorise(self, text: str, vector: Vector | None = None) -> str:
        """The likeliest category of a petition: the message's similarity to each category's description and
        examples, its content words' similarity to the terms the description lists, and the words they share."""
        clean = normalise_text(text)
        if vector is None:
            vector = self.embed(clean)
        models = self._models()
        words = models.words.of(clean)
        content = self._embed_alone(normalise_text(" ".join(words))) if words else vector
        pairs = set(_pairs(clean))
        w = self._category_weights

        def score(category: _CategoryModel) -> float:
            examples = float(np.max(category.examples @ vector)) if category.examples is not None else 0.0
            return (
                w.description * float(category.description @ vector)
                + w.examples * examples
                + w.terms * _top_mean(category.terms @ content, 2)
                + w.words * sum(category.pairs.get(p, 0.0) for p in pairs)
            )

        return max(models.categories, key=score).name


class _ContentWords:
    """The content words of a message (jieba words of two or more characters, no stopwords, digits or Latin
    letters, no place names ending in 省市县区镇乡村): what it is about, without who and where."""

    def __init__(self) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()

    def of(self, text: str) -> list[str]:
        """The content words of text, in order."""
        return [
            word
            for word in self._tokenizer.cut(text)
            if len(word) >= 2 and word not in STOPWORDS and not _NOT_CONTENT.search(word)
        ]


_NOT_CONTENT = re.compile(r"[A-Za-z0-9]|[省市县区镇乡村]$")


def _cues(text: str) -> dict[str, float]:
    """The rule cues of a message: complaint kinds shown, urging, a place or a public body named, asking about a
    service, another question, passing on a notice, and a message too short to tell of a case."""
    urge = _URGE.search(text) is not None
    return {
        "complaint": float(_complaint_kinds(text)),
        "urge": float(urge),
        "place": float(_PLACE.search(text) is not None),
        "body": float(_PUBLIC_BODY.search(text) is not None),
        "ask": float(not urge and _ASK.search(text) is not None),
        "question": float(not urge and _QUESTION.search(text) is not None),
        "notice": float(not urge and _NOTICE.search(text) is not None),
        "short": float(len(re.findall(r"\w", text)) <= 6),
    }


def explicit_petition(text: str) -> str | None:
    """The petition's text when the message says it is one ("报事 …", "#诉求 …", "我要反映…", "投诉…", "举报…"),
    trigger removed; None otherwise, and for a question about how or where to complain ("投诉电话是多少")."""
    trigger = _TRIGGER.match(text)
    if trigger is None:
        return None
    rest = text[trigger.end() :].strip()
    return None if _is_question(normalise_text(rest)) else rest


def _is_question(text: str) -> bool:
    """A question rather than a complaint: asking how, where or whom, or another question telling of no problem;
    urging a fix is never a question."""
    if _URGE.search(text):
        return False
    if _ASK.search(text):
        return True
    return _QUESTION.search(text) is not None and not _complaint_kinds(text)


def _complaint_kinds(text: str) -> int:
    """How many kinds of complaint the text shows."""
    return sum(1 for cue in _COMPLAINT_CUES.values() if cue.search(text))


def _listed_terms(category: PetitionCategory) -> list[str]:
    """The terms a category's description lists ("电梯、水管、下水道…"), or its name when it lists none."""
    return [t for t in re.split(r"[、，,；;。/\s]+", category.description) if len(t) >= 2] or [category.name]


def _pairs(text: str) -> list[str]:
    """The pairs of adjacent Chinese characters in text."""
    return [text[i : i + 2] for i in range(len(text) - 1) if _CJK_PAIR.fullmatch(text[i : i + 2])]


_CJK_PAIR = re.compile(r"[\u4e00-\u9fff]{2}")


def _top_mean(similarities: Vector, k: int) -> float:
    top = np.sort(similarities)[-k:]
    return float(top.mean()) if top.size else 0.0


def _read_prototypes(path: Path) -> tuple[list[str], list[str]]:
    """The [诉求] and [其他] example messages of the prototypes file."""
    sections: dict[str, list[str]] = {"诉求": [], "其他": []}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections[line[1:-1]]
        elif current is not None:
            current.append(line)
    return sections["诉求"], sections["其他"]
