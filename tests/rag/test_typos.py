"""Homophone typos: corrected towards the knowledge base's words, real words left alone."""

from __future__ import annotations

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.rag.lexical import STOPWORDS, ChineseAnalyzer, Lexicon
from bot.rag.typos import HomophoneCorrector, sound
from tests.conftest import CountingEmbeddings
from tests.support.knowledge_files import write_faq_csv

_TARGETS = ("残疾证", "申请", "上门", "干电池", "去世", "活动室", "分类", "补办")


@pytest.fixture(scope="module")
def corrector() -> HomophoneCorrector:
    analyzer = ChineseAnalyzer(Lexicon(terms=("残疾证", "活动室")), bigrams=False)
    return HomophoneCorrector(
        _TARGETS, seen=("食堂", "活动"), is_word=analyzer.is_word, function_chars=(w for w in STOPWORDS if len(w) == 1)
    )


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("残疾正丢了怎么办", "残疾证丢了怎么办"),
        ("什么时候能申情", "什么时候能申请"),
        ("师傅几天能上们", "师傅几天能上门"),
        ("用完的干电赤扔哪", "用完的干电池扔哪"),
        ("社保卡丢了咋补半", "社保卡丢了咋补办"),
    ],
)
def test_a_typo_that_sounds_like_a_knowledge_base_word_is_corrected(
    corrector: HomophoneCorrector, typed: str, meant: str
) -> None:
    assert corrector.correct(typed) == meant


@pytest.mark.parametrize(
    "text",
    [
        "我想去食堂吃饭",  # 去食 sounds like 去世, but 食堂 is a word
        "社区有活动是几月份",  # a word and 是, not a typo of 活动室
        "申请高龄津贴要带什么",  # already right
        "周末带孩子去钓鱼",  # no knowledge-base word sounds like it
        "",
    ],
)
def test_real_words_are_left_alone(corrector: HomophoneCorrector, text: str) -> None:
    assert corrector.correct(text) == text


def test_commonly_confused_sounds_fold_together() -> None:
    assert sound("zheng") == sound("zen") == "zen"
    assert sound("nei") == sound("lei")
    assert sound("shi") == sound("si")
    assert sound("qing") == sound("qin")


def test_two_equally_likely_words_leave_the_typo_as_typed() -> None:
    analyzer = ChineseAnalyzer(Lexicon(), bigrams=False)
    corrector = HomophoneCorrector(("登记", "等级"), seen=(), is_word=analyzer.is_word, function_chars=())
    assert corrector.correct("等记") == "等记"  # shares 等 with 等级 and 记 with 登记


def test_retrieval_scores_a_typed_question_like_the_right_spelling(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    write_faq_csv(
        settings.knowledge_dir / "faq" / "disability.csv",
        [
            ["faq-t-d-01", "残疾证丢了怎么补办？", "残疾证遗失补办", "带身份证到区残联补办。", "助残", "测试", ""],
            ["faq-t-d-02", "残疾人补贴怎么申请？", "残疾人补贴申请", "到社区窗口申请。", "助残", "测试", ""],
        ],
    )
    knowledge = build_application(settings, embeddings=counting_embeddings)
    knowledge.ingestor.ingest(settings.knowledge_dir)
    typed = knowledge.retriever.retrieve("残疾正丢了咋补半")
    meant = knowledge.retriever.retrieve("残疾证丢了咋补办")
    assert typed[0].entry_id == "faq-t-d-01"
    assert [(h.entry_id, h.score) for h in typed] == [(h.entry_id, h.score) for h in meant]
