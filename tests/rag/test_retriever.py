"""Ranking within a subject: siblings told apart by the words only one of them holds."""

from __future__ import annotations

from pathlib import Path

from bot.app import build_application
from bot.config import Settings
from bot.domain.knowledge import Chunk, EntryKind, RetrievalHit
from bot.rag.chunking import OVERVIEW_SECTION
from bot.rag.retriever import SubjectLexicalIndex
from tests.conftest import CountingEmbeddings
from tests.support.knowledge_files import write_faq_csv, write_guide


def _chunk(entry_id: str, kind: EntryKind, section: str, text: str) -> Chunk:
    return Chunk(
        chunk_id=f"{entry_id}#{section}",
        entry_id=entry_id,
        kind=kind,
        title=entry_id,
        section=section,
        source="测试",
        updated="",
        category="测试",
        file="t",
        text=text,
        content=text,
    )


def test_a_word_every_sibling_shares_weighs_nothing_and_a_guide_scores_its_best_section() -> None:
    members = [
        (_chunk("faq-a", EntryKind.FAQ, "a", ""), ["津贴", "多少"]),
        (_chunk("faq-b", EntryKind.FAQ, "b", ""), ["津贴", "哪里"]),
        (_chunk("guide", EntryKind.GUIDE, "发放", ""), ["津贴", "到账"]),
        (_chunk("guide", EntryKind.GUIDE, "认证", ""), ["津贴", "刷脸"]),
        (_chunk("guide", EntryKind.GUIDE, OVERVIEW_SECTION, ""), ["津贴", "多少", "哪里", "到账", "刷脸"]),
    ]
    index = SubjectLexicalIndex(members)

    assert len(set(index.scores(["津贴"]).values())) == 1  # in every unit: tells no sibling apart

    detail = index.scores(["津贴", "多少"])
    assert detail["faq-a"] > 0.5 > detail["faq-b"]
    assert detail["guide"] == detail["faq-b"]  # the overview, which names every detail, is not a unit

    assert index.scores(["刷脸"])["guide"] > 0.9  # the section holding the detail counts for the whole guide


def test_words_no_sibling_uses_can_be_left_out_so_they_do_not_shrink_the_gaps() -> None:
    members = [
        (_chunk("faq-a", EntryKind.FAQ, "a", ""), ["津贴", "多少"]),
        (_chunk("faq-b", EntryKind.FAQ, "b", ""), ["津贴", "哪里"]),
        (_chunk("faq-c", EntryKind.FAQ, "c", ""), ["津贴", "认证"]),
    ]
    index = SubjectLexicalIndex(members)
    story = ["老爷子", "过世", "后事", "顾上", "看他", "津贴", "多少"]

    diluted = index.scores(story)
    kept = index.scores(story, known_only=True)
    assert kept == index.scores(["津贴", "多少"], known_only=True)  # the story's other words are left out
    assert kept["faq-a"] - kept["faq-b"] > 2 * (diluted["faq-a"] - diluted["faq-b"])
    assert kept["faq-b"] == kept["faq-c"]
    assert index.scores(["津贴", "多少"], known_only=True) == index.scores(["津贴", "多少"])  # nothing unknown


def _siblings_kb(root: Path) -> Path:
    write_faq_csv(
        root / "faq" / "allowance.csv",
        [
            [
                "faq-t-al-01",
                "高龄津贴每月发多少钱？",
                "高龄津贴标准是多少|高龄津贴一个月给多少",
                "每月100元。",
                "养老",
                "测试",
                "",
            ],
            [
                "faq-t-al-02",
                "高龄津贴在哪里申请？",
                "高龄津贴去哪办|高龄津贴能网上办吗",
                "到社区综合窗口申请。",
                "养老",
                "测试",
                "",
            ],
        ],
    )
    write_faq_csv(
        root / "faq" / "library.csv",
        [["faq-t-lib-01", "图书馆几点开门？", "图书馆开放时间", "周二至周日9:00-17:00。", "文化", "测试", ""]],
    )
    write_guide(
        root / "guides" / "allowance.md",
        "guide-t-allowance",
        "高龄津贴申领指南",
        {"资格认证": "每年做一次刷脸认证，不会操作的可以请网格员上门帮忙。", "发放": "每月10日前发到社保卡。"},
        category="养老",
    )
    return root


def _scores(settings: Settings, embeddings: CountingEmbeddings, question: str, weight: float) -> dict[str, float]:
    knowledge = build_application(settings.model_copy(update={"sibling_lexical_weight": weight}), embeddings=embeddings)
    knowledge.ingestor.ingest(settings.knowledge_dir)
    return {hit.entry_id: hit.score for hit in knowledge.retriever.retrieve(question, top_k=10)}


def test_siblings_fall_behind_by_their_wording_and_other_subjects_keep_their_scores(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    _siblings_kb(settings.knowledge_dir)
    question = "高龄津贴刷脸认证不会弄，有人上门帮忙吗"
    plain = _scores(settings, counting_embeddings, question, 0.0)
    separated = _scores(settings, counting_embeddings, question, 0.5)

    # The guide's section holds the detail (刷脸, 上门): it keeps its score and now leads its FAQ siblings.
    assert separated["guide-t-allowance"] == plain["guide-t-allowance"]
    for sibling in ("faq-t-al-01", "faq-t-al-02"):
        assert separated[sibling] < plain[sibling]
        assert separated[sibling] < separated["guide-t-allowance"]
    assert separated["faq-t-lib-01"] == plain["faq-t-lib-01"]  # another subject: untouched


def test_a_long_story_separates_siblings_by_the_words_they_use_and_a_short_question_is_unchanged(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    _siblings_kb(settings.knowledge_dir)

    def scores(question: str, long_question_chars: int) -> dict[str, float]:
        update = {"sibling_lexical_weight": 0.5, "long_question_chars": long_question_chars}
        knowledge = build_application(settings.model_copy(update=update), embeddings=counting_embeddings)
        knowledge.ingestor.ingest(settings.knowledge_dir)
        return {hit.entry_id: hit.score for hit in knowledge.retriever.retrieve(question, top_k=10)}

    story = (
        "我家老爷子今年八十五了，腿脚不好平时不怎么下楼，家里孩子都在外地上班，高龄津贴刷脸认证不会弄，有人上门帮忙吗"
    )
    as_before = scores(story, 0)
    long = scores(story, 20)
    assert long["guide-t-allowance"] == as_before["guide-t-allowance"]  # the best sibling keeps its score
    for sibling in ("faq-t-al-01", "faq-t-al-02"):
        assert long[sibling] < as_before[sibling]
    assert long["faq-t-lib-01"] == as_before["faq-t-lib-01"]

    short = "高龄津贴刷脸认证不会弄"
    assert scores(short, 20) == scores(short, 0)


def test_a_follow_up_within_one_subject_is_scored_as_before(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    _siblings_kb(settings.knowledge_dir)
    within = frozenset({"faq-t-al-01", "faq-t-al-02", "guide-t-allowance"})

    def follow_up(weight: float) -> list[RetrievalHit]:
        knowledge = build_application(
            settings.model_copy(update={"sibling_lexical_weight": weight}), embeddings=counting_embeddings
        )
        knowledge.ingestor.ingest(settings.knowledge_dir)
        return knowledge.retriever.retrieve("要多少钱", within=within, context="高龄津贴")

    assert follow_up(0.5) == follow_up(0.0)
