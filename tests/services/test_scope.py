"""Questions about another city's policy are recognised; a resident's own whereabouts and the places the knowledge
base covers are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.knowledge import Chunk, EntryKind
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.services.scope import RegionScope
from tests.support.services import ready_services


@pytest.mark.parametrize(
    ("question", "region"),
    [
        ("北京的高龄津贴多少钱", "北京"),
        ("广州城乡居民医保一年交多少", "广州"),
        ("上海市居住证积分怎么算", "上海"),
        ("浙江省残疾人补贴标准", "浙江"),
    ],
)
def test_other_places_policy_is_out_of_scope(question: str, region: str) -> None:
    assert RegionScope().other_region(question) == region


@pytest.mark.parametrize(
    "question",
    [
        "我常年在深圳工作，我爸八十多了住在幸福里，能申请探访吗",
        "俺老妈户口在黑龙江，现在跟俺住，八十一了能领高龄补贴不",
        "我是河南人，刚搬来，居住证怎么办",
        "我从上海搬过来的，医保怎么转",
        "中山路那个充电桩坏了",
        "高龄津贴多少钱",
    ],
)
def test_a_residents_own_whereabouts_are_not_out_of_scope(question: str) -> None:
    assert RegionScope().other_region(question) is None


def test_home_regions_are_never_elsewhere() -> None:
    scope = RegionScope(home_regions=["杭州", "浙江"])
    assert scope.other_region("杭州的高龄津贴多少钱") is None
    assert scope.other_region("宁波的高龄津贴多少钱") == "宁波"


def _chunk(entry_id: str, text: str, *, title: str = "社区服务", source: str = "社区") -> Chunk:
    return Chunk(
        chunk_id=f"{entry_id}-0",
        entry_id=entry_id,
        kind=EntryKind.FAQ,
        title=title,
        section="",
        source=source,
        updated="2026-10-01",
        category="",
        file="faq.csv",
        text=text,
        content=text,
    )


def test_places_the_knowledge_base_names_in_titles_sources_or_several_entries_are_covered() -> None:
    scope = RegionScope()
    chunks = [
        _chunk("a", "高龄津贴每月100元", source="广东省民政厅"),
        _chunk("b", "居住证怎么办", title="深圳居住证办理"),
        *(_chunk(f"c{n}", f"佛山的第{n}项服务") for n in range(3)),
        _chunk("d", "带老人去北京看病医保要先办啥"),  # one phrasing in passing covers nothing
    ]
    covered = scope.covered_by(chunks)
    assert covered == frozenset({"广东", "深圳", "佛山"})
    assert scope.other_region("广东的高龄津贴多少钱", covered) is None
    assert scope.other_region("深圳市居住证怎么办", covered) is None
    assert scope.other_region("北京的高龄津贴多少钱", covered) == "北京"
    assert scope.other_region("浙江省残疾人补贴标准", covered) == "浙江"


def test_a_knowledge_base_of_a_province_answers_questions_naming_it(
    tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    kb = tmp_path / "kb"
    (kb / "faq").mkdir(parents=True)
    (kb / "faq" / "guangdong.csv").write_text(
        "id,question,similar_questions,answer,category,source,updated\n"
        "gd-01,广东省高龄津贴每月发多少？,广东高龄补贴标准是多少,"
        "80至89岁每月100元，90岁以上每月300元。,养老服务,广东省民政厅,2026-10-01\n"
        "gd-02,广东省居住证怎么申领？,在广东怎么办居住证,"
        "带身份证和租房合同到居住地派出所申领。,户籍服务,广东省公安厅,2026-10-01\n",
        encoding="utf-8",
    )
    application = ready_services(tmp_path / "data", use_embeddings, knowledge_dir=kb)
    own = application.answering.answer("广东的高龄津贴每月发多少")
    assert own.reason != "other_region" and own.answered and own.top is not None and own.top.entry_id == "gd-01"
    elsewhere = application.answering.answer("浙江的高龄津贴每月发多少")
    assert not elsewhere.answered and elsewhere.reason == "other_region" and "浙江" in elsewhere.text
