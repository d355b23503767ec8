"""The staff group's rows: only "#12 答：…", "#12 入库", "#12 关闭", a petition's move ("2026-0012 受理") and a
notice ("#通知 全部 …", then "确认发送") mean something; the rest is chatter. Also the residents' row that refuses
a notice."""

from __future__ import annotations

from bot.domain.errors import AssistantError
from bot.domain.escalation import QuestionNotOpenError
from bot.domain.knowledge import case_specific_signs
from bot.domain.messages import InboundMessage, MessageKind
from bot.domain.notices import is_confirmation, looks_like_wechat_notice, parse_wechat_notice
from bot.domain.petitions import PetitionEvent, staff_may
from bot.domain.routing import Department
from bot.domain.staff import Actor, Venue
from bot.handlers.context import Handling, MessageContext
from bot.services.audit import StaffAudit
from bot.services.escalation import (
    EscalationService,
    parse_staff_answer,
    parse_staff_close,
    parse_staff_to_knowledge,
)
from bot.services.faq_book import FaqBook, FaqEditError, NotAnsweredError
from bot.services.notices import NoticeDesk
from bot.services.petitions import PetitionDesk, StaffMove, parse_staff_move


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

    def check(self, message: InboundMessage, context: MessageContext) -> tuple[int, bool] | None:
        """The question number and whether staff confirmed it ("仍然入库"), or None."""
        return parse_staff_to_knowledge(context.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: tuple[int, bool]) -> Handling:
        """Add the answered question to the FAQ book, or say why it cannot be (or must be confirmed first)."""
        to_knowledge, confirmed = match
        question = self._escalation.get(to_knowledge)
        signs = case_specific_signs(question.answer) if question is not None and not confirmed else ()
        if signs:
            reply = (
                f"#{to_knowledge} 的答复像是只针对这一件事（{'；'.join(signs)}），"
                f"加入知识库后别的居民问到也会收到这句话。确认对所有人都适用，请回复“#{to_knowledge} 仍然入库”。"
            )
            return context.queue(reply, "staff_faq_unconfirmed")
        try:
            if question is None:
                raise NotAnsweredError(f"没有 #{to_knowledge}")
            entry_id = self._faq_book.add(question)
        except (NotAnsweredError, FaqEditError) as exc:
            return context.queue(f"没能加入知识库：{exc}。", "staff_faq_refused")
        if self._audit is not None:
            self._audit.record_as(_staff(message), "faq_added", target=entry_id, detail=f"#{to_knowledge}")
        reply = f"已把 #{to_knowledge} 加入知识库（{entry_id}），以后居民再问会自动回答。"
        return context.queue(reply, "staff_faq_added")


class CloseQuestion:
    """Staff say "#12 关闭 …": the question is closed without a message to the residents."""

    name = "staff_close"
    priority = 30
    block = True

    def __init__(self, escalation: EscalationService) -> None:
        self._escalation = escalation

    def check(self, message: InboundMessage, context: MessageContext) -> tuple[int, str] | None:
        """The question number and the closing note, or None."""
        return parse_staff_close(context.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: tuple[int, str]) -> Handling:
        """Close the question and confirm it in the staff group."""
        number, note = match
        try:
            self._escalation.close(number, note, actor=_staff(message))
        except QuestionNotOpenError:
            return context.queue(f"没有找到待答的 #{number}（可能已经处理过了）。", "staff_unknown_number")
        return context.queue(f"已关闭 #{number}，不会发消息给居民。", "staff_closed")


class AnswerQuestion:
    """Staff say "#12 答：…": the answer reaches every resident who asked #12."""

    name = "staff_answer"
    priority = 40
    block = True

    def __init__(self, escalation: EscalationService) -> None:
        self._escalation = escalation

    def check(self, message: InboundMessage, context: MessageContext) -> tuple[int, str] | None:
        """The question number and the answer, or None."""
        return parse_staff_answer(context.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: tuple[int, str]) -> Handling:
        """Send the answer to the askers and confirm it in the staff group."""
        number, answer = match
        try:
            answered = self._escalation.answer(number, answer, actor=_staff(message))
        except QuestionNotOpenError:
            return context.queue(f"没有找到待答的 #{number}（可能已经答过了）。", "staff_unknown_number")
        count = len({(a.group_id, a.user_id) for a in answered.askers})
        return context.queue(f"已把 #{number} 的答复发给 {count} 位居民。", "staff_answered")


class MovePetition:
    """Staff move a case: "2026-0012 受理", "… 派单 物业" ("… 派单" alone: the category's department), "… 处理中",
    "… 办结：已修好", "… 不予受理：原因", "… 合并 2026-0009", "… 吹哨：原因" (the street office called in); the
    resident is told by the move (not of an escalation), the staff group gets one line (or why not)."""

    name = "staff_petition_move"
    priority = 50
    block = True

    def __init__(self, desk: PetitionDesk) -> None:
        self._desk = desk

    def check(self, message: InboundMessage, context: MessageContext) -> StaffMove | None:
        """The move ordered, or None."""
        return parse_staff_move(context.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: StaffMove) -> Handling:
        """Move the case and confirm it, or say why it cannot be moved."""
        try:
            moved = self._desk.order(match, actor=_staff(message))
        except AssistantError as refused:
            return context.queue(f"没能办理：{refused}。", "staff_petition_refused")
        if match.event is PetitionEvent.ESCALATE:  # the note says why and who was notified; the resident is not told
            return context.queue(f"诉求 {moved.number} 已吹哨：{moved.note}。", "staff_petition_escalated")
        shown = moved.department if match.event is PetitionEvent.DISPATCH else moved.note
        said = f"（{shown}）" if shown else ""
        reply = f"诉求 {moved.number} {match.event.label}{said}，现在是“{moved.status.label}”，已告诉居民。"
        return context.queue(reply, "staff_petition_moved")


class DepartmentGroup:
    """A department's staff WeChat group (from the departments directory), where its dispatches arrive: its handlers
    reply "2026-0012 处理中" or "2026-0012 办结：说明" to a case dispatched to it, as the console lets handlers do;
    anything else said there is left alone (it is no residents' group)."""

    name = "department_group"
    priority = 35
    block = True

    def __init__(self, desk: PetitionDesk) -> None:
        self._desk = desk

    def check(self, message: InboundMessage, context: MessageContext) -> Department | None:
        """The department whose group it was said in, or None."""
        return self._desk.department_of_group(message.group_id)

    def handle(self, message: InboundMessage, context: MessageContext, match: Department) -> Handling:
        """Start or resolve the case if it is this department's; otherwise say why not, or nothing for chatter."""
        move = parse_staff_move(context.text) if message.kind is MessageKind.TEXT else None
        if move is None:
            return Handling("department_chatter")
        if not staff_may(move.event, handler=True):
            return context.queue(
                f"没能办理：部门群里请回复“{move.number} 处理中”或“{move.number} 办结：说明”，其他操作请找社区。",
                "department_move_refused",
            )
        found = self._desk.case(move.number)
        if found is None or found.department != match.name:  # another department's case is told as missing
            return context.queue(f"没能办理：没有派给{match.name}的诉求 {move.number}。", "department_move_refused")
        try:
            moved = self._desk.order(move, actor=_staff(message))
        except AssistantError as refused:
            return context.queue(f"没能办理：{refused}。", "department_move_refused")
        said = f"（{moved.note}）" if moved.note else ""
        reply = f"诉求 {moved.number} {move.event.label}{said}，现在是“{moved.status.label}”，已告诉居民。"
        return context.queue(reply, "department_petition_moved")


class PublishNotice:
    """Staff write "#通知 全部 …" or "#通知 3号楼群 …" (a group's name, a community or a tag) in the staff group: the
    assistant echoes the text and the groups it would reach, and waits for "确认发送" from the same person."""

    name = "staff_notice"
    priority = 15
    block = True

    def __init__(self, notices: NoticeDesk) -> None:
        self._notices = notices

    def check(self, message: InboundMessage, context: MessageContext) -> tuple[str, str] | None:
        """The target word and the text, or None."""
        return parse_wechat_notice(context.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: tuple[str, str]) -> Handling:
        """Keep it as the author's draft and show exactly what residents would read, or say why it cannot go."""
        word, text = match
        try:
            shown = self._notices.propose(word, text, actor=_staff(message), scope=None)
        except AssistantError as refused:
            return context.queue(f"没能发通知：{refused}", "staff_notice_refused")
        names = "、".join(g.name or g.group_id for g in shown.groups[:5])
        more = f"等 {len(shown.groups)} 个群" if len(shown.groups) > 5 else f"共 {len(shown.groups)} 个群"
        reply = (
            f"将作为紧急通知发往{names}（{more}），居民看到的内容：\n{shown.draft.text}\n"
            f"请在 {self._notices.confirm_minutes} 分钟内回复“确认发送”，不回复就不发。"
        )
        return context.queue(reply, "staff_notice_drafted")


class ConfirmNotice:
    """ "确认发送" in the staff group sends the notice its writer drafted there within the last few minutes."""

    name = "staff_notice_confirm"
    priority = 16
    block = True

    def __init__(self, notices: NoticeDesk) -> None:
        self._notices = notices

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether the message is "确认发送"."""
        return is_confirmation(context.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Send the writer's draft, or say there is none waiting."""
        try:
            run = self._notices.confirm(actor=_staff(message))
        except AssistantError as refused:
            return context.queue(f"没能发通知：{refused}", "staff_notice_refused")
        if run is None:
            reply = (
                f"没有等你确认的通知（超过 {self._notices.confirm_minutes} 分钟的已作废），"
                "请重新发“#通知 全部 通知内容”。"
            )
            return context.queue(reply, "staff_notice_nothing_to_confirm")
        reply = f"通知 #{run.notice_id} 已开始发送，共 {run.groups} 个群；进度可在控制台“通知公告”里查看。"
        return context.queue(reply, "staff_notice_sent")


class NoticeByNonStaff:
    """ "#通知 …" anywhere but the staff group (a residents' group, a private chat) is refused and recorded: residents
    never trigger a send."""

    name = "notice_refused"
    priority = 45
    block = True

    def __init__(self, notices: NoticeDesk) -> None:
        self._notices = notices

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether the message tries to publish a notice."""
        return message.kind is MessageKind.TEXT and looks_like_wechat_notice(context.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Refuse it, and record who tried where."""
        where = f"群 {message.group_name or message.group_id}" if message.group_id else "私聊"
        tried = Actor(message.sender_name or message.sender_id, Venue.ASSISTANT, username=message.sender_id[:64])
        self._notices.refuse(tried, where=where)
        return context.queue("只有社区工作人员可以在工作群里发通知。", "notice_refused")


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


def _staff(message: InboundMessage) -> Actor:
    """The staff member who wrote in the staff group, as the audit names them."""
    return Actor.staff_group(message.sender_name or message.sender_id)
