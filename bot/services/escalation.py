"""Handing questions to a person: the unanswered queue, the staff group, and answers back to the askers."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from bot.domain.conversation import Question
from bot.domain.errors import AssistantError
from bot.domain.escalation import (
    QUESTION_WORKFLOW,
    Asker,
    QuestionEvent,
    QuestionNotOpenError,
    QuestionStatus,
    UnansweredQuestion,
)
from bot.domain.messages import OutboundMessage, excerpt, plain_text
from bot.domain.privacy import mask_personal_data
from bot.domain.staff import Actor
from bot.ports import Clock, Outbox, UnansweredQuestions
from bot.services.audit import StaffAudit
from bot.services.near_duplicates import OpenQuestionVectors, Vector

HANDOFF_TEXT = "好的，已通知社区工作人员，请稍候，他们会在这里回复您。"
_HANDOFF = re.compile(r"转人工|人工客服|人工服务|找工作人员|找个人|真人|找社区的人|要人工")
_STAFF_TO_KNOWLEDGE = re.compile(r"^\s*[#＃](\d+)\s*(仍然|仍要|确认)?\s*(?:入库|加入知识库|存入知识库)\s*$")
_STAFF_CLOSE = re.compile(r"^\s*[#＃](\d+)\s*(?:关闭|不用答|无需答复)\s*[:：]?\s*(.*)$", re.DOTALL)
_STAFF_ANSWER = re.compile(r"^\s*[#＃](\d+)\s*答\s*[:：]?\s*([^:：\s].*)$", re.DOTALL)
# Cosine similarity of sentence embeddings above which two residents ask the same thing. Measured with the default
# model: paraphrases ("小区里能不能养鸽子" / "小区能养鸽子不") 0.92-0.95; different matters that share most words
# ("…养鸽子" / "…养狗", "护照在哪里办" / "驾照在哪里办") 0.70-0.78.
SAME_QUESTION = 0.88
# What the queue keeps of a question: the assistant asks residents to shorten longer ones, and a long request for a
# person is cut here, so staff read its start and nothing unbounded is stored or embedded.
QUEUED_QUESTION_CHARS = 500
_ANSWER_CHARS = 4000
_RECENT_EMBEDDINGS = 1024


class EmptyAnswerError(AssistantError):
    """Staff sent an empty answer."""


def wants_a_person(text: str) -> bool:
    """Whether a resident asks for a person ("转人工", "找工作人员")."""
    return bool(_HANDOFF.search(text))


_FILLER = re.compile(r"[\s,，.。!！?？~～、]|我要|我想|请|帮我|给我|麻烦|一下|吧|啊|呀|呢|你好|在吗")


def is_bare_handoff(text: str) -> bool:
    """Whether a request for a person says nothing else ("转人工", "我要找工作人员！")."""
    return wants_a_person(text) and len(_FILLER.sub("", _HANDOFF.sub("", text))) < 4


def parse_staff_to_knowledge(text: str) -> tuple[int, bool] | None:
    """'#12 入库' → (12, False): add the answered question to the knowledge base; '#12 仍然入库' → (12, True):
    even though its answer reads as about one case."""
    match = _STAFF_TO_KNOWLEDGE.match(text)
    return (int(match.group(1)), match.group(2) is not None) if match else None


def parse_staff_close(text: str) -> tuple[int, str] | None:
    """'#12 关闭：闲聊' → (12, '闲聊'): the question needs no answer."""
    match = _STAFF_CLOSE.match(text)
    return (int(match.group(1)), match.group(2).strip()) if match else None


def parse_staff_answer(text: str) -> tuple[int, str] | None:
    """'#12 答：…' → (12, '…')."""
    match = _STAFF_ANSWER.match(text)
    if match is None or not match.group(2).strip():
        return None
    return int(match.group(1)), match.group(2).strip()


class EscalationService:
    """Keeps the unanswered queue: near-duplicates join, staff are told, answers go back to every asker; each answer
    and closing is audited here, whoever gave it and wherever."""

    def __init__(
        self,
        questions: UnansweredQuestions,
        queue: Outbox,
        clock: Clock,
        *,
        audit: StaffAudit,
        embed: Callable[[list[str]], np.ndarray[Any, np.dtype[np.float32]]],
        embedding_id: str = "",
        staff_group_id: str = "",
        staff_channel: str = "wechat",
        community_of: Callable[[str], str] = lambda group_id: "",
        group_name_of: Callable[[str], str] = lambda group_id: group_id,
    ) -> None:
        self._questions = questions
        self._audit = audit
        self._community_of = community_of
        self._group_name_of = group_name_of
        self._open_vectors = OpenQuestionVectors(questions, embed, embedding_id)
        self._recent_embeddings: OrderedDict[str, Vector] = OrderedDict()
        self._embed = embed
        self._queue = queue
        self._clock = clock
        self._staff_group_id = staff_group_id
        self._staff_channel = staff_channel

    def escalate(
        self,
        question: Question,
        *,
        reason: str,
        candidates: tuple[str, ...] = (),
        urgent: bool = False,
        join_similar: bool = True,
    ) -> UnansweredQuestion:
        """Put a question in the queue (masked), joining an open near-duplicate unless told not to; tell staff."""
        if question.origin and (asked := self._questions.asked_by(question.origin)) is not None:
            return asked  # a handler retried after a crash: queued and staff told the first time
        now = question.at or self._clock.now()
        text = queued_text(question.text)
        asker = Asker(question.channel, question.group_id, question.user_id, text, now, question.origin)
        community = self._community_of(question.group_id)
        vector = self._embedding(text)
        same = self._open_near_duplicate(vector, community) if join_similar else None
        if same is not None:
            try:
                joined = self._questions.join(same.id, asker, urgent=urgent)
            except QuestionNotOpenError:  # staff settled it a moment ago: this asker gets a question of their own
                joined = None
            if joined is not None:
                if urgent and not same.urgent:
                    self._notify(joined, now)
                return joined
        created = self._questions.create(
            question=text,
            asker=asker,
            urgent=urgent,
            reason=reason,
            candidates=candidates,
            community=community,
            now=now,
            **self._open_vectors.stored(vector),
        )
        self._open_vectors.add(created.id, community, vector)
        self._notify(created, now)
        return created

    def answer(self, number: int, answer: str, *, actor: Actor) -> UnansweredQuestion:
        """actor answers question #number: every asker gets it in their group, @-mentioned, through the outbox.

        When the answer was given elsewhere than in the staff group (the console, the command line), the staff
        group is told, so nobody there answers it again.
        """
        answer = plain_text(answer, limit=_ANSWER_CHARS).strip()
        if not answer:
            raise EmptyAnswerError("答复内容不能为空")
        question = self._questions.get(number)
        if question is None:
            raise QUESTION_WORKFLOW.refusal(number, None, QuestionEvent.ANSWER)
        replies = [
            OutboundMessage(
                channel=asker.channel,
                text=f"关于您问的“{excerpt(asker.text, 20)}”，社区工作人员答复：{answer}",
                group_id=asker.group_id,
                user_id="" if asker.group_id else asker.user_id,
                mention_ids=(asker.user_id,) if asker.group_id else (),
            )
            for asker in question.askers
        ]
        if actor.elsewhere:
            replies += self._staff_notice(f"#{number} 已由{actor.name}在{actor.elsewhere}答复：{excerpt(answer, 40)}")
        answered = self._questions.answer(number, answer=answer, by=actor.name, now=self._clock.now(), replies=replies)
        self._audit.record_as(actor, "question_answered", target=f"#{number}", detail=answer[:200])
        self._open_vectors.forget(number, answered.community)
        return answered

    def close(self, number: int, note: str, *, actor: Actor) -> UnansweredQuestion:
        """actor decides question #number needs no answer: the residents are not messaged; the staff group is told
        when it was decided elsewhere (the console, or the assistant when a resident picked one of its choices)."""
        note = plain_text(note, limit=_ANSWER_CHARS).strip() or "无需答复"
        notice = (
            self._staff_notice(f"#{number} 已由{actor.name}在{actor.elsewhere}关闭，不答复：{excerpt(note, 40)}")
            if actor.elsewhere
            else []
        )
        closed = self._questions.close(number, note=note, by=actor.name, now=self._clock.now(), replies=notice)
        self._audit.record_as(actor, "question_closed", target=f"#{number}", detail=closed.answer)
        self._open_vectors.forget(number, closed.community)
        return closed

    def _staff_notice(self, text: str) -> list[OutboundMessage]:
        """A message for the staff group, if there is one."""
        if not self._staff_group_id:
            return []
        return [OutboundMessage(self._staff_channel, text, group_id=self._staff_group_id)]

    def get(self, number: int) -> UnansweredQuestion | None:
        """Question #number, open or answered."""
        return self._questions.get(number)

    def queue(
        self, *, community: str | None, status: QuestionStatus, limit: int | None = 200
    ) -> list[UnansweredQuestion]:
        """Questions in one status (only one community's if given): open ones urgent first, answered newest first."""
        return self._questions.listed(community=community, status=status, limit=limit)

    def count(self, *, community: str | None, status: QuestionStatus) -> int:
        """How many questions are in one status (only one community's if given)."""
        return self._questions.count(community=community, status=status)

    def renotify_overdue(self, *, older_than: timedelta) -> list[UnansweredQuestion]:
        """Remind the staff group of open questions waiting longer than older_than (each once per period)."""
        now = self._clock.now()
        overdue = self._questions.due_for_reminder(now=now, older_than=older_than)
        for question in overdue:
            self._notify(question, now, reminder=True)
        return overdue

    def is_staff_group(self, group_id: str) -> bool:
        """Whether messages in this group come from staff."""
        return bool(self._staff_group_id) and group_id == self._staff_group_id

    def _embedding(self, text: str) -> Vector:
        """The question's embedding; residents repeat the same questions, so recent ones are kept (bounded)."""
        vector = self._recent_embeddings.pop(text, None)
        if vector is None:
            vector = self._embed([text])[0]
        self._recent_embeddings[text] = vector
        while len(self._recent_embeddings) > _RECENT_EMBEDDINGS:
            self._recent_embeddings.popitem(last=False)
        return vector

    def _open_near_duplicate(self, vector: Vector, community: str) -> UnansweredQuestion | None:
        """The open question of the same community that asks the same thing, if any."""
        for number, _ in self._open_vectors.nearest(vector, community, at_least=SAME_QUESTION):
            found = self._questions.get(number)
            if found is not None and found.status is QuestionStatus.OPEN:
                return found
            self._open_vectors.forget(number, community)  # settled meanwhile
        return None

    def _notify(self, question: UnansweredQuestion, now: datetime, *, reminder: bool = False) -> None:
        if not self._staff_group_id:  # spares the group-name lookup when no staff group is set
            return
        first = question.askers[0]
        where = f"“{self._group_name_of(first.group_id)}”群" if first.group_id else "私聊"
        flag = "【急】居民要求人工" if question.urgent else "【待答】"
        if reminder:
            flag = f"【超时未答，{len(question.askers)}人在等】" + flag
        text = (
            f"#{question.id} {flag}{where}的居民问：{question.question}\n"
            f"回复“#{question.id} 答：……”即可把答复发给提问的居民；答复后回复“#{question.id} 入库”可加入知识库；"
            f"不需要答复的回复“#{question.id} 关闭”。"
        )
        source = f"question:{question.id}"
        # A reminder is a new message each round; a repeated first notice (or urgent one) is queued once.
        key = f"{source}:reminder:{now.isoformat()}" if reminder else None
        for notice in self._staff_notice(text):
            self._queue.enqueue(notice, now=now, source=source, dedupe_key=key)


def queued_text(text: str) -> str:
    """What the queue keeps of a resident's question: masked, cleaned and bounded."""
    text = mask_personal_data(plain_text(text.strip(), limit=QUEUED_QUESTION_CHARS * 2).strip())
    return text if len(text) <= QUEUED_QUESTION_CHARS else text[: QUEUED_QUESTION_CHARS - 1] + "…"
