"""The staff group's rows: only "#12 答：…", "#12 入库" and "#12 关闭" mean something; the rest is chatter."""

from __future__ import annotations

from bot.domain.messages import InboundMessage, MessageKind
from bot.handlers.context import Handling, MessageContext
from bot.services.audit import StaffAudit
from bot.services.escalation import (
    EscalationService,
    parse_staff_answer,
    parse_staff_close,
    parse_staff_to_knowledge,
)
from bot.services.faq_book import FaqBook, FaqEditError, NotAnsweredError
from bot.storage.unanswered import QuestionNotOpenError


class StaffNonText:
    """Pictures, voice and files in the staff group are chatter, whatever text they carry."""

    name = "staff_non_text"
    priority = 10
    block = True

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether the message is anything but text."""
        return message.kind is not MessageKind.TEXT

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Nothing to do."""
        return Handling("staff_chatter")


class AddToKnowledge:
    """Staff say "#12 入库": the staff answer to #12 becomes an FAQ entry of the knowledge base."""

    name = "staff_to_knowledge"
    priority = 20
    block = True

    def __init__(self, escalation: EscalationService, faq_book: FaqBook, audit: StaffAudit | None) -> None:
        self._escalation = escalation
        self._faq_book = faq_book
        self._audit = audit

    def check(self, message: InboundMessage, context: MessageContext) -> int | None:
        """The question number, or None."""
        return parse_staff_to_knowledge(context.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: int) -> Handling:
        """Add the answered question to the FAQ book, or say why it cannot be."""
        to_knowledge = match
        question = self._escalation.get(to_knowledge)
        try:
            if question is None:
                raise NotAnsweredError(f"没有 #{to_knowledge}")
            entry_id = self._faq_book.add(question)
        except (NotAnsweredError, FaqEditError) as exc:
            return context.queue(f"没能加入知识库：{exc}。", "staff_faq_refused")
        _record_staff(self._audit, message, "faq_added", target=entry_id, detail=f"#{to_knowledge}")
        reply = f"已把 #{to_knowledge} 加入知识库（{entry_id}），以后居民再问会自动回答。"
        return context.queue(reply, "staff_faq_added")


class CloseQuestion:
    """Staff say "#12 关闭 …": the question is closed without a message to the residents."""

    name = "staff_close"
    priority = 30
    block = True

    def __init__(self, escalation: EscalationService, audit: StaffAudit | None) -> None:
        self._escalation = escalation
        self._audit = audit

    def check(self, message: InboundMessage, context: MessageContext) -> tuple[int, str] | None:
        """The question number and the closing note, or None."""
        return parse_staff_close(context.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: tuple[int, str]) -> Handling:
        """Close the question and confirm it in the staff group."""
        number, note = match
        try:
            closed = self._escalation.close(number, note, by=_staff_name(message))
        except QuestionNotOpenError:
            return context.queue(f"没有找到待答的 #{number}（可能已经处理过了）。", "staff_unknown_number")
        _record_staff(self._audit, message, "question_closed", target=f"#{number}", detail=closed.answer)
        return context.queue(f"已关闭 #{number}，不会发消息给居民。", "staff_closed")


class AnswerQuestion:
    """Staff say "#12 答：…": the answer reaches every resident who asked #12."""

    name = "staff_answer"
    priority = 40
    block = True

    def __init__(self, escalation: EscalationService, audit: StaffAudit | None) -> None:
        self._escalation = escalation
        self._audit = audit

    def check(self, message: InboundMessage, context: MessageContext) -> tuple[int, str] | None:
        """The question number and the answer, or None."""
        return parse_staff_answer(context.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: tuple[int, str]) -> Handling:
        """Send the answer to the askers and confirm it in the staff group."""
        number, answer = match
        try:
            answered = self._escalation.answer(number, answer, by=_staff_name(message))
        except QuestionNotOpenError:
            return context.queue(f"没有找到待答的 #{number}（可能已经答过了）。", "staff_unknown_number")
        _record_staff(self._audit, message, "question_answered", target=f"#{number}", detail=answer[:200])
        count = len({(a.group_id, a.user_id) for a in answered.askers})
        return context.queue(f"已把 #{number} 的答复发给 {count} 位居民。", "staff_answered")


class StaffChatter:
    """Everything else staff say among themselves is left alone."""

    name = "staff_chatter"
    priority = 100
    block = True

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Always: the last row takes what no command did."""
        return True

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Nothing to do."""
        return Handling("staff_chatter")


def _staff_name(message: InboundMessage) -> str:
    return message.sender_name or message.sender_id


def _record_staff(audit: StaffAudit | None, message: InboundMessage, action: str, *, target: str, detail: str) -> None:
    if audit is not None:
        audit.record_in_chat(_staff_name(message), action, target=target, detail=detail)
