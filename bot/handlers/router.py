"""Routing of inbound chat messages: each message walks an explicit, ordered table of handlers (rows)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from bot.domain.messages import InboundMessage
from bot.handlers.answering import AssistantReply, ChitChatReply, Handoff
from bot.handlers.context import Handling, MessageContext
from bot.handlers.gates import (
    GROUP_BUSY_TEXT,
    NON_TEXT_HINT,
    RATE_LIMITED_TEXT,
    DisabledGroup,
    DropDuplicates,
    IgnoreBots,
    NonTextHint,
    NotAddressed,
    RateLimit,
    RateLimits,
    StaffGroup,
)
from bot.handlers.petitions import AttachPhoto, petition_rows, reporter_of
from bot.handlers.staff import (
    AddToKnowledge,
    AnswerQuestion,
    CloseQuestion,
    ConfirmNotice,
    DepartmentGroup,
    MovePetition,
    NoticeByNonStaff,
    PublishNotice,
    StaffChatter,
    StaffNonText,
)
from bot.handlers.table import HandlerTable
from bot.ports import Clock, GroupDirectory, Outbox
from bot.services.assistant import ResidentAssistant
from bot.services.audit import StaffAudit
from bot.services.escalation import EscalationService
from bot.services.faq_book import FaqBook
from bot.services.notices import NoticeDesk
from bot.services.petitions import PetitionDesk
from bot.services.photos import PhotoAlbum

__all__ = [
    "GROUP_BUSY_TEXT",
    "NON_TEXT_HINT",
    "RATE_LIMITED_TEXT",
    "Handling",
    "MessageRouter",
    "RateLimits",
    "resident_handlers",
    "staff_handlers",
]


def resident_handlers(
    assistant: ResidentAssistant,
    outbox: Outbox,
    *,
    other_bot_ids: Iterable[str],
    limits: RateLimits,
    escalation: EscalationService | None,
    faq_book: FaqBook | None,
    audit: StaffAudit | None,
    petitions: PetitionDesk | None = None,
    notices: NoticeDesk | None = None,
    photos: PhotoAlbum | None = None,
    photo_window: timedelta = timedelta(minutes=30),
) -> HandlerTable:
    """Every inbound message's rows, in order (each row's priority in the comment); every row here blocks but one
    (a petition left unconfirmed), so the first that matches ends the walk. Rows that need the unanswered queue
    (escalation) are left out without it, the petition rows without the petition desk. A new kind of message (a
    notice) is one more row at its priority."""
    table = HandlerTable()
    table.add(IgnoreBots(other_bot_ids))  # 10: our own messages and other bots'
    table.add(DropDuplicates(outbox))  # 20: delivered again
    if escalation is not None:
        staff = staff_handlers(escalation, faq_book=faq_book, audit=audit, petitions=petitions, notices=notices)
        table.add(StaffGroup(escalation, staff))  # 30
    if petitions is not None:
        table.add(DepartmentGroup(petitions))  # 35: a department's group: "2026-0012 处理中", "… 办结：…"
    table.add(DisabledGroup())  # 40: registers a new group; switched off
    if notices is not None:
        table.add(NoticeByNonStaff(notices))  # 45: "#通知 …" from a resident: refused and recorded
    if petitions is not None and photos is not None:
        table.add(AttachPhoto(petitions, photos, within=photo_window))  # 45: a picture for the case just reported
    table.add(NotAddressed())  # 50: not meant for the assistant
    table.add(NonTextHint())  # 60: a picture or voice message: "please write"
    table.add(RateLimit(limits))  # 70: too fast, per resident and per group
    table.add(ChitChatReply(assistant))  # 75: "谢谢啊 小助手你真好", "在吗 有个事想问问", a stray "1": a short reply
    if petitions is not None:
        for row in petition_rows(petitions, photos):  # 80: "1" to confirm, the place asked for, "查询 …", "报事 …"
            table.add(row)
    if escalation is not None:
        table.add(Handoff(assistant, escalation))  # 90: "转人工"
    table.add(AssistantReply(assistant, escalation))  # 100: the assistant's reply
    return table


def staff_handlers(
    escalation: EscalationService,
    *,
    faq_book: FaqBook | None,
    audit: StaffAudit | None,
    petitions: PetitionDesk | None = None,
    notices: NoticeDesk | None = None,
) -> HandlerTable:
    """The staff group's rows, in order: a notice, commands about a queued question, a petition's move, then chatter.
    Adding to the knowledge base needs the FAQ book, moving petitions the petition desk, notices the notice desk."""
    table = HandlerTable()
    table.add(StaffNonText())  # 10: pictures and voice are chatter
    if notices is not None:
        table.add(PublishNotice(notices))  # 15: "#通知 全部 …", "#通知 3号楼群 …"
        table.add(ConfirmNotice(notices))  # 16: "确认发送"
    if faq_book is not None:
        table.add(AddToKnowledge(escalation, faq_book, audit))  # 20: "#12 入库"
    table.add(CloseQuestion(escalation))  # 30: "#12 关闭"
    table.add(AnswerQuestion(escalation))  # 40: "#12 答：…"
    if petitions is not None:
        table.add(MovePetition(petitions))  # 50: "2026-0012 受理", "… 派单 物业", "… 办结：…"
    table.add(StaffChatter())  # 100: anything else
    return table


class MessageRouter:
    """Hands each inbound message, with its context, to the resident table (see resident_handlers for the rows)."""

    def __init__(
        self,
        assistant: ResidentAssistant,
        groups: GroupDirectory,
        outbox: Outbox,
        clock: Clock,
        *,
        bot_names: Iterable[str],
        other_bot_ids: Iterable[str] = (),
        limits: RateLimits | None = None,
        escalation: EscalationService | None = None,
        faq_book: FaqBook | None = None,
        audit: StaffAudit | None = None,
        petitions: PetitionDesk | None = None,
        notices: NoticeDesk | None = None,
        photos: PhotoAlbum | None = None,
        photo_window: timedelta = timedelta(minutes=30),
    ) -> None:
        self._assistant = assistant
        self._petitions = petitions
        self._groups = groups
        self._outbox = outbox
        self._clock = clock
        self._bot_names = tuple(n for n in bot_names if n)
        self.table = resident_handlers(
            assistant,
            outbox,
            other_bot_ids=other_bot_ids,
            limits=limits or RateLimits(),
            escalation=escalation,
            faq_book=faq_book,
            audit=audit,
            petitions=petitions,
            notices=notices,
            photos=photos,
            photo_window=photo_window,
        )

    def handle(self, message: InboundMessage) -> Handling:
        """Decide, answer and queue; every path returns an outcome, none raises for bad input."""
        context = MessageContext(
            message,
            clock=self._clock,
            groups=self._groups,
            outbox=self._outbox,
            bot_names=self._bot_names,
            awaits_choice=lambda group_id, user_id, text: self._awaits_reply(message, text),
        )
        return self.table.dispatch(message, context)

    def _awaits_reply(self, message: InboundMessage, text: str) -> bool:
        """Whether text answers what the assistant just asked its sender, so it needs no @: a pick among the choices
        offered ("2"), or about a petition, "1" to confirm it or the place asked for."""
        if self._assistant.awaits_choice(message.group_id, message.sender_id, text):
            return True
        return self._petitions is not None and self._petitions.awaits_reply(reporter_of(message), text)
