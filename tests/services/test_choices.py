"""Refused questions that several entries fit about equally well offer them as numbered choices; "2" picks one."""

from __future__ import annotations

import pytest

from bot.app import Application
from bot.domain.conversation import Question, Reply
from bot.services.answering import REFUSAL_TEXT
from bot.services.assistant import choice_number
from tests.support.clock import FakeClock

VAGUE = "食堂"  # the canteen's FAQ entries all fit; none alone


def ask(knowledge: Application, text: str, user: str, group: str = "g1") -> Reply:
    return knowledge.assistant.reply(Question(text, group_id=group, user_id=user))


def test_a_vague_question_is_refused_with_numbered_choices(knowledge: Application) -> None:
    reply = ask(knowledge, VAGUE, user="c1")
    assert not reply.answered and reply.reason == "low_confidence"
    assert reply.primary is not None
    choices = reply.primary.choices
    assert 2 <= len(choices) <= 3
    assert all(choice.entry_id.startswith("faq-canteen") for choice in choices)
    assert reply.text.startswith(REFUSAL_TEXT)  # still passed to staff: nothing depends on the resident picking
    for number, choice in enumerate(choices, start=1):
        assert f"\n{number}. {choice.title}" in reply.text
    assert "*" not in reply.text and "#" not in reply.text


def test_replying_a_number_answers_that_entry_with_its_source(knowledge: Application) -> None:
    offered = ask(knowledge, VAGUE, user="c2")
    assert offered.primary is not None
    second = offered.primary.choices[1]
    picked = ask(knowledge, "2", user="c2")
    assert picked.answered and picked.reason == "chosen"
    assert picked.primary is not None and picked.primary.top is not None
    assert picked.primary.top.entry_id == second.entry_id
    assert second.content[:20] in picked.text and "（来源：" in picked.text
    # Another choice can still be picked, in words too; the pick is the topic for a follow-up.
    first = ask(knowledge, "第一个", user="c2")
    assert first.primary is not None and first.primary.top is not None
    assert first.primary.top.entry_id == offered.primary.choices[0].entry_id
    follow_up = ask(knowledge, "那在哪办？", user="c2")
    assert follow_up.reason != "needs_topic"


def test_a_number_beyond_the_choices_asks_again(knowledge: Application) -> None:
    ask(knowledge, VAGUE, user="c3")
    reply = ask(knowledge, "９", user="c3")
    assert not reply.answered and reply.reason == "choice_out_of_range"
    assert "请回复 1 到" in reply.text


def test_choices_belong_to_one_resident_and_end_with_a_new_question_or_time(
    knowledge: Application, clock: FakeClock
) -> None:
    ask(knowledge, VAGUE, user="c4")
    assert ask(knowledge, "1", user="someone-else").reason != "chosen"
    assert ask(knowledge, "1", user="c4", group="another-group").reason != "chosen"

    ask(knowledge, "小区里能不能养鸽子", user="c4")  # a new question, refused without choices
    assert ask(knowledge, "1", user="c4").reason != "chosen"

    ask(knowledge, VAGUE, user="c5")
    clock.advance(minutes=6)
    assert ask(knowledge, "1", user="c5").reason != "chosen"


def test_a_clear_question_gets_no_choices(knowledge: Application) -> None:
    reply = ask(knowledge, "高龄津贴每个月能领多少钱", user="c6")
    assert reply.answered and reply.primary is not None and reply.primary.choices == ()
    assert ask(knowledge, "1", user="c6").reason != "chosen"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1", 1),
        ("３", 3),
        ("第二个", 2),
        ("2.", 2),
        (" 三 ", 3),
        ("第1项", 1),
        ("12", None),
        ("1号楼", None),
        ("", None),
    ],
)
def test_choice_numbers(text: str, number: int | None) -> None:
    assert choice_number(text) == number
