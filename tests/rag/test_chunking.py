"""Chinese-aware chunking: sentences stay whole, sizes stay bounded, citations stay attached."""

from __future__ import annotations

from bot.domain.knowledge import EntryKind, KnowledgeEntry, Section
from bot.rag.chunking import chunk_entry, pack_sentences, split_sentences


def test_split_sentences_on_chinese_punctuation() -> None:
    assert split_sentences("第一句。第二句！第三句？第四句；尾巴") == [
        "第一句。",
        "第二句！",
        "第三句？",
        "第四句；",
        "尾巴",
    ]


def test_pack_keeps_sentences_whole_within_bound() -> None:
    text = "甲" * 30 + "。" + "乙" * 30 + "。" + "丙" * 30 + "。"
    pieces = pack_sentences(text, max_chars=70)
    assert pieces == ["甲" * 30 + "。" + "乙" * 30 + "。", "丙" * 30 + "。"]


def test_overlong_sentence_is_cut_at_commas_then_hard() -> None:
    sentence = "，".join(["字" * 20] * 6) + "。"
    pieces = pack_sentences(sentence, max_chars=50)
    assert all(len(p) <= 50 for p in pieces)
    assert "".join(pieces) == sentence
    assert pack_sentences("无" * 120, max_chars=50) == ["无" * 50, "无" * 50, "无" * 20]


def test_faq_is_indexed_question_by_question() -> None:
    entry = KnowledgeEntry(
        id="faq-1",
        kind=EntryKind.FAQ,
        title="问",
        category="c",
        source="s",
        updated="2026-01-01",
        file="f.csv",
        questions=("问", "另一个问法", "第三个问法"),
        answer="答案",
    )
    chunks = chunk_entry(entry, 100)
    assert [c.chunk_id for c in chunks] == ["faq-1#q0", "faq-1#q1", "faq-1#q2", "faq-1#a"]
    assert {c.entry_id for c in chunks} == {"faq-1"} and {c.content for c in chunks} == {"答案"}
    assert [c.text for c in chunks] == ["问", "另一个问法", "第三个问法", "问 答案"]


def test_guide_chunks_carry_title_section_and_source() -> None:
    entry = KnowledgeEntry(
        id="guide-1",
        kind=EntryKind.GUIDE,
        title="指南",
        category="c",
        source="民政局",
        updated="2026-01-01",
        file="g.md",
        sections=(Section("办理材料", "身份证。户口本。"), Section("地点", "综合窗口。")),
    )
    overview, *sections = chunk_entry(entry, 100)
    assert [(c.section, c.content) for c in sections] == [("办理材料", "身份证。户口本。"), ("地点", "综合窗口。")]
    assert sections[0].text == "指南 办理材料：身份证。户口本。"
    assert (overview.chunk_id, overview.section) == ("guide-1#overview", "概述")
    assert overview.text == "指南：包括：办理材料、地点。"
    assert all(c.source == "民政局" and c.title == "指南" and c.entry_id == "guide-1" for c in [overview, *sections])
