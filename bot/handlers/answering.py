"""The answering rows: a request for a person goes to staff; any other question gets the assistant's reply."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from datetime import timedelta

from bot.domain.conversation import Question, Reply
from bot.domain.escalation import QuestionStatus
from bot.domain.messages import InboundMessage
from bot.domain.staff import ASSISTANT
from bot.handlers.context import Handling, MessageContext
from bot.services.answering import choice_label
from bot.services.assistant import ResidentAssistant
from bot.services.escalation import HANDOFF_TEXT, EscalationService, is_bare_handoff, wants_a_person

# How far back a resident's last question is attached to their request for a person.
HANDOFF_CONTEXT = timedelta(minutes=30)
_OFFERED_CAPACITY = 10_000
# Replies that promise the question was passed to staff: they put it in the unanswered queue.
ESCALATED_REASONS = frozenset({"low_confidence", "llm_no_answer", "output_blocked"})


class ChitChatReply:
    """Chit-chat and closings on the staff's list ("谢谢啊 小助手你真好", "在吗 有个事想问问", a stray "1"): a short
    reply, never a knowledge hit and never the staff queue. It comes before the petition rows, so a closing is never
    read as a complaint, and steps aside for a reply the assistant awaits (a pick among choices, a petition's "1")."""

    name = "chit_chat"
    priority = 75
    block = True

    def __init__(self, assistant: ResidentAssistant) -> None:
        self._assistant = assistant

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether the whole message is chit-chat and not an awaited reply."""
        return self._assistant.chit_chat(context.addressed.text) is not None and not context.awaited

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Queue the assistant's short reply (recorded as a turn like any other)."""
        reply = self._assistant.reply(context.question)
        return context.queue(reply.text, f"replied:{reply.reason}")


class Handoff:
    """A request for a person ("转人工" and the like): the question goes to staff at once, marked urgent."""

    name = "handoff"
    priority = 90
    block = True

    def __init__(self, assistant: ResidentAssistant, escalation: EscalationService) -> None:
        self._assistant = assistant
        self._escalation = escalation

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether the resident asks for a person."""
        return wants_a_person(context.addressed.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Put the question in the unanswered queue and tell the resident staff will answer."""
        question = context.question
        # "转人工" alone tells staff nothing: what the resident asked just before is the question.
        previous = self._assistant.previous_question(question, within=HANDOFF_CONTEXT)
        if previous and is_bare_handoff(question.text):
            question = dataclasses.replace(question, text=previous)
        # Every request for a person is its own entry: two residents saying "转人工" want different things.
        self._escalation.escalate(question, reason="handoff", urgent=True, join_similar=False)
        return context.queue(HANDOFF_TEXT, "handed_off")


class AssistantReply:
    """The assistant's reply to everything that reached this row. With an unanswered queue, each part it could not
    answer goes to staff, and a resident who picks an answer among the choices offered closes their queued question."""

    name = "assistant_reply"
    priority = 100
    block = True

    def __init__(self, assistant: ResidentAssistant, escalation: EscalationService | None) -> None:
        self._assistant = assistant
        self._escalation = escalation
        # The queued question behind the choices each resident was offered last (bounded, oldest out first)
        self._offered_questions: OrderedDict[tuple[str, str], int] = OrderedDict()

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Always: the last row answers what no row before it took."""
        return True

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Ask the assistant, pass on to staff what it could not answer, and queue the reply."""
        question = context.question
        reply = self._assistant.reply(question)
        if self._escalation is not None:
            self._escalate_refusals(self._escalation, question, reply)
            if reply.reason == "chosen":
                self._close_picked(self._escalation, question, reply)
        return context.queue(reply.text, "answered" if reply.answered else f"replied:{reply.reason}")

    def _escalate_refusals(self, escalation: EscalationService, question: Question, reply: Reply) -> None:
        """Every part the reply told the resident was passed to staff goes into the unanswered queue."""
        if reply.reason == "output_blocked":
            escalation.escalate(question, reason=reply.reason)
            return
        key = (question.group_id, question.user_id)
        for n, answer in enumerate(reply.answers):
            if not answer.answered and answer.reason in ESCALATED_REASONS:
                origin = f"{question.origin}#{n}" if question.origin else ""
                part = dataclasses.replace(question, text=answer.question, origin=origin)
                candidates = tuple(hit.entry_id for hit in answer.hits[:3])
                queued = escalation.escalate(part, reason=answer.reason, candidates=candidates)
                if answer.choices and len(reply.answers) == 1:
                    self._offered_questions.pop(key, None)
                    self._offered_questions[key] = queued.id
                    while len(self._offered_questions) > _OFFERED_CAPACITY:
                        self._offered_questions.popitem(last=False)

    def _close_picked(self, escalation: EscalationService, question: Question, reply: Reply) -> None:
        """A resident who found the answer among the choices needs no staff answer: their question is closed, unless
        other residents wait on it too. Staff see the pick in the closing note (a wording to add as a phrasing)."""
        number = self._offered_questions.pop((question.group_id, question.user_id), None)
        picked = reply.primary.top if reply.primary else None
        if number is None or picked is None:
            return
        queued = escalation.get(number)
        if queued is None or queued.status is not QuestionStatus.OPEN:
            return
        if any((a.group_id, a.user_id) != (question.group_id, question.user_id) for a in queued.askers):
            return
        note = f"居民从候选里选了“{choice_label(picked)}”"
        escalation.close(number, note, actor=ASSISTANT)
