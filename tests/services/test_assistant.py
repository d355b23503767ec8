"""The reply path residents meet (offline, extractive): small talk, limits, safety, follow-ups, several questions."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Application, build_application
from bot.config import Settings
from bot.domain.conversation import Question, Reply
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.support.clock import FakeClock


def ask(knowledge: Application, text: str, group: str = "g1", user: str = "u1") -> Reply:
    return knowledge.assistant.reply(Question(text, group_id=group, user_id=user))


def _top(reply: Reply) -> str | None:
    return reply.primary.top.entry_id if reply.answered and reply.primary and reply.primary.top else None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("你好", "greeting"),
        ("在吗？", "greeting"),
        ("谢谢小助手！", "thanks"),
        ("你好，谢谢", "thanks"),
        ("好的好的", "acknowledge"),
        ("👍👍", "emoji"),
        ("🙏", "emoji"),
    ],
)
def test_small_talk_gets_a_short_friendly_reply_never_a_knowledge_hit(
    knowledge: Application, text: str, kind: str
) -> None:
    reply = ask(knowledge, text, user=f"smalltalk-{kind}")
    assert reply.reason == f"small_talk:{kind}" and not reply.answered and reply.answers == ()
    assert len(reply.text) <= 40 and "来源" not in reply.text


def test_answer_is_plain_text_with_essentials_and_a_source_line(knowledge: Application) -> None:
    reply = ask(knowledge, "灭火器过期了找谁换", user="plain")
    assert reply.answered and _top(reply) == "faq-fire-03"
    body, source = reply.text.rsplit("\n", 1)
    assert "物业" in body and "0000-86001003" in body
    assert source.startswith("（来源：") and "更新）" in source
    for markdown in ("**", "##", "- ", "`"):
        assert markdown not in reply.text


def test_guide_answers_name_the_guide_and_section(knowledge: Application) -> None:
    reply = ask(knowledge, "厨余垃圾连着塑料袋一起扔进绿桶行不行", user="guide")
    if reply.answered and _top(reply) == "guide-garbage-sorting":
        assert "《垃圾分类投放指南》" in reply.text


def test_out_of_scope_questions_are_refused_and_said_to_be_passed_on(knowledge: Application) -> None:
    for text in ("明天股票会涨吗", "护照在哪里办", "北京的高龄津贴多少钱"):
        reply = ask(knowledge, text, user="refuse")
        assert not reply.answered
        assert "转给社区工作人员" in reply.text or "我只了解本社区" in reply.text


def test_follow_up_resolves_against_the_previous_topic_then_expires(knowledge: Application, clock: FakeClock) -> None:
    assert _top(ask(knowledge, "高龄津贴每个月能领多少钱", user="f1")) == "faq-elderly-02"
    assert _top(ask(knowledge, "那需要带什么材料？", user="f1")) == "faq-elderly-03"
    assert _top(ask(knowledge, "在哪办？", user="f1")) == "faq-elderly-04"
    # Another resident in the same group has no such context: asked which matter, not guessed.
    assert ask(knowledge, "那需要带什么材料？", user="f2").reason == "needs_topic"
    clock.advance(minutes=6)
    assert ask(knowledge, "那需要带什么材料？", user="f1").reason == "needs_topic"


def test_follow_up_context_is_per_group(knowledge: Application) -> None:
    assert _top(ask(knowledge, "食堂送餐上门怎么申请", group="g-a", user="same")) == "faq-canteen-05"
    assert _top(ask(knowledge, "高龄津贴每个月能领多少钱", group="g-b", user="same")) == "faq-elderly-02"
    assert _top(ask(knowledge, "那送一次多少钱", group="g-a", user="same")) == "faq-canteen-05"


def test_a_new_question_is_not_hijacked_by_the_previous_topic(knowledge: Application) -> None:
    ask(knowledge, "居住证在哪里办，多久能拿到证？", user="switch")
    assert _top(ask(knowledge, "楼上漏水渗到我家天花板了怎么办", user="switch")) == "faq-property-06"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("小区垃圾几点可以扔？", "家里养的狗要去哪儿办狗证"),  # no runner-up within the topic: no lead to speak of
        ("家里东西坏了，怎么找物业报修？", "还有个事 家里宽带老掉线找哪个营业厅"),  # a subject of its own
        ("社区积分超市什么时候开？", "小区业主委员会怎么选出来的"),
        ("社区图书馆办借书证要带什么？", "孩子想学游泳 社区有没有暑假兴趣班"),
    ],
)
def test_a_new_uncovered_question_is_never_answered_from_the_previous_topic(
    knowledge: Application, first: str, second: str
) -> None:
    user = f"new-topic-{first}"
    assert ask(knowledge, first, user=user).answered
    assert not ask(knowledge, second, user=f"fresh-{first}").answered  # refused when asked fresh
    reply = ask(knowledge, second, user=user)
    assert not reply.answered and reply.reason == "low_confidence"


def test_an_elliptical_follow_up_still_leans_on_the_topic(knowledge: Application) -> None:
    assert _top(ask(knowledge, "门牌码上的“一键求助”怎么用？", user="pointer")) == "faq-doorplate-04"
    assert _top(ask(knowledge, "老人半夜突然心口疼也是点这个吗", user="pointer")) == "faq-doorplate-04"


@pytest.mark.parametrize(
    ("text", "kind"),
    [("谢谢啊 小助手你真好", "thanks"), ("在吗 有个事想问问", "ask"), ("1", "number"), ("哈哈哈😂", "acknowledge")],
)
def test_chit_chat_off_the_old_list_gets_a_short_reply(knowledge: Application, text: str, kind: str) -> None:
    reply = ask(knowledge, text, user=f"chat-{kind}")
    assert reply.reason == f"small_talk:{kind}" and not reply.answered and reply.answers == ()
    assert "工作人员" not in reply.text


def test_thanks_with_a_real_question_answers_the_question(knowledge: Application) -> None:
    assert _top(ask(knowledge, "谢谢，请问高龄津贴每个月能领多少钱", user="thanks-question")) == "faq-elderly-02"


def test_a_short_question_naming_another_subject_is_not_a_follow_up(knowledge: Application) -> None:
    assert _top(ask(knowledge, "灭火器过期了找谁换", user="short-switch")) == "faq-fire-03"
    assert _top(ask(knowledge, "社区食堂几点开饭", user="short-switch")) == "faq-canteen-01"


def test_several_questions_in_one_message_are_each_answered_or_refused(knowledge: Application) -> None:
    reply = ask(knowledge, "高龄津贴每个月能领多少钱？另外楼道里的灭火器过期了找谁换？护照在哪里办？", user="multi")
    assert reply.reason == "several_questions" and reply.answered
    lines = reply.text.split("\n")
    assert lines[0].startswith("1. 关于“高龄津贴每个月能领多少钱”：")
    assert any(line.startswith("2. 关于“楼道里的灭火器过期了找谁换”：") for line in lines)
    assert any(line.startswith("3. 关于“护照在哪里办”：这个问题我暂时答不上来") for line in lines)
    assert [a.top.entry_id for a in reply.answers if a.answered and a.top] == ["faq-elderly-02", "faq-fire-03"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("？？？！！", "small_talk:emoji"),
        ("。。。", "small_talk:emoji"),
        ("\x00\x01\x02\ufffd\ufffd", "small_talk:emoji"),
        ("高" * 600, "too_long"),
    ],
)
def test_bad_input_gets_a_short_clear_reply(knowledge: Application, text: str, reason: str) -> None:
    reply = ask(knowledge, text, user="bad-input")
    assert reply.reason == reason and not reply.answered and len(reply.text) < 60


def test_mixed_scripts_and_garbage_around_a_question_still_work(knowledge: Application) -> None:
    reply = ask(knowledge, "\x00请问 Library 图书馆\u200b 几点开门?? abc", user="mixed")
    assert _top(reply) == "faq-library-01"


def test_sensitive_input_is_not_answered_and_recorded_masked(knowledge: Application) -> None:
    reply = ask(knowledge, "我电话13812345678，小区里有人组织赌 博，高龄津贴多少钱", user="sensitive")
    assert not reply.answered and reply.reason == "sensitive_input" and "赌" not in reply.text
    log = knowledge.settings.data_dir / "flagged_messages.jsonl"
    record = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert record["reason"] == "sensitive:赌博" and record["user"] == "sensitive"
    assert "13812345678" not in record["text"] and "138****5678" in record["text"]


def test_a_reply_containing_a_listed_word_is_never_sent(
    tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    kb = tmp_path / "kb"
    (kb / "faq").mkdir(parents=True)
    (kb / "faq" / "x.csv").write_text(
        "id,question,similar_questions,answer,category,source\n"
        "faq-x-1,棋牌室晚上开到几点？,棋牌室几点关门|棋牌室营业时间,棋牌室开到晚上九点，严禁赌博。,文化,测试\n",
        encoding="utf-8",
    )
    (kb / "_sensitive_words.txt").write_text("# test\n赌博\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=kb, _env_file=None)  # type: ignore[call-arg]
    services = build_application(settings, embeddings=use_embeddings)
    services.ingestor.ingest(kb)
    reply = ask(services, "棋牌室晚上开到几点", user="out")
    assert reply.reason == "output_blocked" and not reply.answered and "赌博" not in reply.text


def test_long_answers_end_on_a_whole_sentence_and_point_to_the_source(
    tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    kb = tmp_path / "kb"
    (kb / "faq").mkdir(parents=True)
    sentences = "".join(f"第{n}条，社区居民办理这项业务时需要注意的事项写在这里。" for n in range(1, 16))
    (kb / "faq" / "long.csv").write_text(
        "id,question,similar_questions,answer,category,source,updated\n"
        f"faq-long-1,办理居住证明要注意什么？,开居住证明注意事项|居住证明有啥要注意的,{sentences},社区事务,测试,2026-10-01\n",
        encoding="utf-8",
    )
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=kb, max_reply_chars=120, _env_file=None)  # type: ignore[call-arg]
    services = build_application(settings, embeddings=use_embeddings)
    services.ingestor.ingest(kb)
    reply = ask(services, "办理居住证明要注意什么", user="long")
    body, source = reply.text.rsplit("\n", 1)
    assert reply.answered and len(body) <= 120
    assert body.endswith("。……详见《办理居住证明要注意什么？》")
    assert source == "（来源：测试，2026-10-01 更新）"


def test_a_storage_failure_never_blocks_the_reply(knowledge: Application, monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenLog:
        def record(self, turn: object) -> None:
            raise OSError("disk full")

        def recent(self, limit: int) -> list[object]:
            return []

        def last_question(self, **where: object) -> str | None:
            raise OSError("disk full")

    monkeypatch.setattr(knowledge.assistant, "_turns", BrokenLog())
    reply = ask(knowledge, "灭火器过期了找谁换", user="broken-db")
    assert reply.answered and reply.primary is not None and reply.primary.top is not None
    assert (
        knowledge.assistant.previous_question(Question("转人工", "g", "broken-db"), within=timedelta(minutes=5)) is None
    )


def test_a_misspelt_subject_is_still_a_new_question_not_a_follow_up(knowledge: Application) -> None:
    assert _top(ask(knowledge, "高龄津贴每个月能领多少钱", user="t1")) == "faq-elderly-02"
    # "残疾正" sounds like 残疾证: it names another subject, so it is not searched within 高龄津贴.
    assert _top(ask(knowledge, "残疾正丢了咋补", user="t1")) == "faq-disability-05"
