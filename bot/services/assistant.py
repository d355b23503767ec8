"""The assistant's reply to a resident's message: guards, small talk, follow-ups, several questions, safety."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.conversation import Answer, ConversationTurn, Question, Reply
from bot.domain.messages import excerpt
from bot.domain.privacy import mask_personal_data
from bot.ports import Clock, TurnLog
from bot.services.answering import REFUSAL_TEXT, AnsweringService
from bot.services.conversation import ConversationMemory, Topic
from bot.services.safety import (
    ChitChat,
    FlaggedMessageLog,
    SensitiveWords,
    SmallTalk,
    clean_text,
    has_content,
    looks_like_injection,
)

log = logging.getLogger(__name__)

TOO_LONG_TEXT = "您的消息太长了，请用一两句话说说想问什么（{limit}字以内），我来帮您查。"
SENSITIVE_TEXT = "您的消息里有不适宜的内容，我不能回答，已转给社区工作人员。"
INJECTION_TEXT = "我只能根据社区的资料回答政策和服务方面的问题，不能改变规则，也不能替别人发通知。"
OUTPUT_BLOCKED_TEXT = "这个问题我不方便直接回答，已经转给社区工作人员，他们会尽快回复您。"
CHOICE_RANGE_TEXT = "请回复 1 到 {count} 之间的数字；都不是的话不用管，社区工作人员会回复您。"
NEEDS_TOPIC_TEXT = "请问您问的是哪项事情？比如“高龄津贴要带什么材料”，把事情说全我好帮您查。"

# "那…", "这个…", "…呢" lean on what was said before; "还有", "另外", "顺便" open a new question instead.
_FOLLOW_UP_START = ("那", "这个", "它", "他", "她")
_SHORT_FOLLOW_UP = 8
_SHORT_REFERENCE = 15
_PART_SPLIT = re.compile(r"(?<=[？?])|\n+|(?:还有|另外|顺便问一下|再问一下|再问下)[，,：:]?")
_POINTER = re.compile(r"这个|那个|这些|那些|这里|那里|这儿|那儿|这边|那边|那地方")
_CHOICE = re.compile(r"^第?([1-9一二三四五六七八九])(?:个|项|条)?[。.、!！]?$")
_CHINESE_DIGITS = "一二三四五六七八九"
_QUESTION_MARK = re.compile(r"[？?]|吗|呢|怎么|咋|哪|几|多少|什么|啥|谁|能不能|可不可以|是不是|有没有")


@dataclass(frozen=True, slots=True)
class _PartResult:
    text: str
    answer: Answer


class ResidentAssistant:
    """Turns one resident message into one reply; the same path serves WeChat, the terminal, `ask` and eval."""

    def __init__(
        self,
        answering: AnsweringService,
        memory: ConversationMemory,
        sensitive_words: SensitiveWords,
        chit_chat: ChitChat,
        flagged: FlaggedMessageLog,
        turns: TurnLog,
        clock: Clock,
        *,
        max_question_chars: int,
        followup_threshold: float | None = None,
    ) -> None:
        self._answering = answering
        self._memory = memory
        self._sensitive = sensitive_words
        self._chit_chat = chit_chat
        self._flagged = flagged
        self._turns = turns
        self._clock = clock
        self._max_chars = max_question_chars
        self._followup_threshold = followup_threshold

    def previous_question(self, question: Question, *, within: timedelta) -> str | None:
        """What this resident asked last in this group within a time (masked), e.g. before asking for a person."""
        try:
            return self._turns.last_question(
                group_id=question.group_id, user_id=question.user_id, since=self._clock.now() - within
            )
        except Exception:  # the record is a help here, never a reason to fail the hand-off
            return None

    def awaits_choice(self, group_id: str, user_id: str, text: str) -> bool:
        """Whether text is a resident's pick ("2") among choices offered to them a moment ago."""
        return choice_number(text) is not None and bool(self._memory.offered(group_id, user_id))

    def chit_chat(self, text: str) -> SmallTalk | None:
        """The short reply to a message that is only chit-chat on the staff's list (or only emoji), else None."""
        return self._chit_chat.recognise(clean_text(text))

    def prepare(self) -> None:
        """Load the index and models now rather than on the first message."""
        self._answering.prepare()

    def reply(self, question: Question) -> Reply:
        """The reply to one message (never raises for bad input)."""
        started = time.perf_counter()
        reply = self._reply(question)
        final = self._screen_output(question, reply)
        final = dataclasses.replace(final, latency_ms=round((time.perf_counter() - started) * 1000, 2))
        self._record(question, final)
        return final

    def _record(self, question: Question, reply: Reply) -> None:
        """Keep the turn (masked) for staff; a storage failure is logged and never blocks the reply."""
        turn = ConversationTurn(
            at=question.at or self._clock.now(),
            channel=question.channel,
            group_id=question.group_id,
            user_id=question.user_id,
            question=mask_personal_data(clean_text(question.text))[: self._max_chars * 2],
            reply=mask_personal_data(reply.text),
            answered=reply.answered,
            reason=reply.reason,
            score=reply.score,
            sources=tuple(s.entry_id for a in reply.answers if a.answered for s in a.sources),
            mode=reply.primary.mode if reply.primary else "none",
            latency_ms=reply.latency_ms,
        )
        try:
            self._turns.record(turn)
        except Exception:  # the resident still gets the reply; staff see the error in the log
            log.exception("could not record the conversation turn of %s in %s", question.user_id, question.group_id)

    def _reply(self, question: Question) -> Reply:
        text = clean_text(question.text)
        if len(text) > self._max_chars:
            return Reply(TOO_LONG_TEXT.format(limit=self._max_chars), False, "too_long")
        picked = self._picked(question, text)
        if picked is not None:
            return picked
        chat = self._chit_chat.recognise(text)
        if chat is not None:
            return Reply(chat.reply, False, f"small_talk:{chat.kind}")
        words = self._sensitive.find(text)
        if words:
            self._flag(question, text, "sensitive:" + "、".join(words))
            return Reply(SENSITIVE_TEXT, False, "sensitive_input")
        if looks_like_injection(text):
            self._flag(question, text, "injection")
            return Reply(INJECTION_TEXT, False, "injection")

        several = self._several(question, text)
        if several is not None:
            self._memory.offer(question.group_id, question.user_id, ())
            return several
        answer = self._answer_in_context(question, text)
        self._memory.offer(question.group_id, question.user_id, answer.choices)
        return Reply(answer.text, answer.answered, answer.reason, (answer,))

    def _picked(self, question: Question, text: str) -> Reply | None:
        """The answer to the choice a resident picked by its number, or None if the message is no pick."""
        number = choice_number(text)
        offered = self._memory.offered(question.group_id, question.user_id)
        if number is None or not offered:
            return None
        if number > len(offered):
            return Reply(CHOICE_RANGE_TEXT.format(count=len(offered)), False, "choice_out_of_range")
        answer = self._answering.answer_choice(text, offered[number - 1])
        self._remember(question, answer, self._memory.recall(question.group_id, question.user_id))
        return Reply(answer.text, True, answer.reason, (answer,))

    def _answer_in_context(self, question: Question, text: str) -> Answer:
        """Answer on its own, or against the resident's previous topic when the message is a follow-up."""
        topic = self._memory.recall(question.group_id, question.user_id)
        names_nothing = not self._answering.retriever.mentions_domain_term(text)
        standalone = self._answering.answer(text)
        if topic is None and names_nothing and _refers_back(text) and len(text) <= _SHORT_REFERENCE:
            # "那需要带什么材料？" with nothing before it: ask which matter, rather than guess one.
            return dataclasses.replace(standalone, answered=False, reason="needs_topic", text=NEEDS_TOPIC_TEXT)
        answer = standalone
        if topic is not None:
            # "那…呢" leans on the topic; so does a short message naming no subject ("要收钱不"). A short message
            # naming a subject ("社区食堂几点开饭") is a new question.
            short = len(text.strip(" ？?。！!")) <= _SHORT_FOLLOW_UP
            leans = _refers_back(text) or _points_back(text) or (short and names_nothing)
            # A question with a subject of its own that the knowledge base never mentions ("家里宽带老掉线找哪个营业厅")
            # is new: it stands on its own, and the topic never answers it.
            own_subject = not leans and bool(self._answering.retriever.unknown_words(text))
            if not own_subject and (leans or names_nothing or not standalone.answered):
                contextual = self._answering.answer(
                    text, within=topic.family, context=topic.terms, threshold=self._followup_threshold
                )
                if contextual.answered or leans or not standalone.answered:
                    answer = contextual
        self._remember(question, answer, topic)
        return answer

    def _several(self, question: Question, text: str) -> Reply | None:
        """Answer each question of a message that asks about several subjects; None if it is really one question.

        Only parts that name a subject count as separate questions ("高龄津贴怎么领？另外灭火器过期找谁？"); a part
        like "要带什么材料？" is answered as a follow-up of the part before it.
        """
        parts = [p.strip(" ，,。") for p in _PART_SPLIT.split(text) if p and has_content(p)]
        retriever = self._answering.retriever
        named = [p for p in parts if _QUESTION_MARK.search(p) and len(p) >= 4 and retriever.mentions_domain_term(p)]
        if len(named) < 2:
            return None
        before = self._memory.recall(question.group_id, question.user_id)
        results = [_PartResult(p, self._answer_in_context(question, p)) for p in parts if _QUESTION_MARK.search(p)]
        if len({r.answer.top.entry_id for r in results if r.answer.answered and r.answer.top}) < 2:
            self._memory.restore(question.group_id, question.user_id, before)
            return None
        lines = []
        for number, result in enumerate(results, start=1):
            body = result.answer.text if result.answer.answered else REFUSAL_TEXT
            # The quote goes to every member of the group: a number the resident typed in it is masked.
            lines.append(f"{number}. 关于“{excerpt(mask_personal_data(result.text), 16)}”：{body}")
        return Reply("\n".join(lines), True, "several_questions", tuple(r.answer for r in results))

    def _remember(self, question: Question, answer: Answer, previous: Topic | None) -> None:
        if not answer.answered or answer.top is None:
            return
        retriever = self._answering.retriever
        entry_id = answer.top.entry_id
        same_topic = previous is not None and entry_id in previous.family
        terms = previous.terms if same_topic and previous is not None else retriever.topic_terms(entry_id)
        family = previous.family if same_topic and previous is not None else retriever.family(entry_id)
        self._memory.remember(question.group_id, question.user_id, entry_id=entry_id, family=family, terms=terms)

    def _screen_output(self, question: Question, reply: Reply) -> Reply:
        words = self._sensitive.find(reply.text)
        if not words:
            return reply
        self._flag(question, reply.text, "sensitive_output:" + "、".join(words))
        return Reply(OUTPUT_BLOCKED_TEXT, False, "output_blocked", reply.answers)

    def _flag(self, question: Question, text: str, reason: str) -> None:
        masked = mask_personal_data(text)
        log.warning("flagged message in %s from %s: %s", question.group_id, question.user_id, reason)
        self._flagged.record(
            group_id=question.group_id,
            user_id=question.user_id,
            text=masked,
            reason=reason,
            at=question.at or self._clock.now(),
        )


def choice_number(text: str) -> int | None:
    """The number in a message that only picks a choice ("2", "第二个"), else None."""
    match = _CHOICE.match(unicodedata.normalize("NFKC", text).strip())
    if match is None:
        return None
    digit = match.group(1)
    return int(digit) if digit.isdigit() else _CHINESE_DIGITS.index(digit) + 1


def _refers_back(text: str) -> bool:
    """ "那…", "这个…", "…呢": a message that only makes sense after a previous one."""
    stripped = text.strip(" ？?。！!")
    # "那个…" opens many spoken sentences as a filler, not as a reference back.
    return (stripped.startswith(_FOLLOW_UP_START) and not stripped.startswith("那个")) or stripped.endswith("呢")


def _points_back(text: str) -> bool:
    """ "…也是点这个吗", "我家门口那个…": a message pointing at something said before, anywhere in it."""
    stripped = text.strip(" ？?。！!")
    return bool(_POINTER.search(stripped[2:] if stripped.startswith("那个") else stripped))
