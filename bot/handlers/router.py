"""Routing of inbound chat messages: an explicit, ordered set of rules before the assistant is asked."""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.conversation import Question, Reply
from bot.domain.escalation import QuestionNotOpenError, QuestionStatus
from bot.domain.messages import InboundMessage, MessageKind, OutboundMessage, TriggerMode, strip_mentions
from bot.domain.staff import ASSISTANT, Actor
from bot.handlers.ratelimit import SlidingWindowLimiter
from bot.ports import Clock
from bot.services.answering import choice_label
from bot.services.assistant import ResidentAssistant
from bot.services.audit import StaffAudit
from bot.services.escalation import (
    HANDOFF_TEXT,
    EscalationService,
    is_bare_handoff,
    parse_staff_answer,
    parse_staff_close,
    parse_staff_to_knowledge,
    wants_a_person,
)
from bot.services.faq_book import FaqBook, FaqEditError, NotAnsweredError
from bot.storage.channel import SqlGroupConfigs, SqlOutbox

log = logging.getLogger(__name__)

NON_TEXT_HINT = "我现在只看得懂文字，请用文字描述您的问题，我来帮您查。"
# Said once per window; what follows within the window is not answered, so the notice says so.
RATE_LIMITED_TEXT = "您发得太快了，接下来一分钟里的消息我先不回复，请过一分钟再把问题发一次。"
GROUP_BUSY_TEXT = "群里提问的人太多了，您这条我没能处理，请过一分钟再发一次。"
# Replies that promise the question was passed to staff: they put it in the unanswered queue.
# How far back a resident's last question is attached to their request for a person.
HANDOFF_CONTEXT = timedelta(minutes=30)
_OFFERED_CAPACITY = 10_000
ESCALATED_REASONS = frozenset({"low_confidence", "llm_no_answer", "output_blocked"})


@dataclass(frozen=True, slots=True)
class Handling:
    """What the router did with one message: an outcome name, the replies it queued, and whether the message was
    marked handled with that outcome (in the inbox and the ledger) in the transaction that queued them."""

    outcome: str
    replies: list[OutboundMessage] = field(default_factory=list)
    recorded: bool = False


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Messages the assistant answers per resident and per group in one window."""

    per_resident: int = 6
    per_group: int = 30
    window: timedelta = timedelta(minutes=1)


class MessageRouter:
    """Rules, in order: not ourselves or another bot; not a duplicate; an enabled group; addressed to us (private,
    @-mention, keyword); text (or a hint); within rate limits; then the assistant's reply goes to the outbox."""

    def __init__(
        self,
        assistant: ResidentAssistant,
        groups: SqlGroupConfigs,
        outbox: SqlOutbox,
        clock: Clock,
        *,
        bot_names: Iterable[str],
        other_bot_ids: Iterable[str] = (),
        limits: RateLimits | None = None,
        escalation: EscalationService | None = None,
        faq_book: FaqBook | None = None,
        audit: StaffAudit | None = None,
    ) -> None:
        self._assistant = assistant
        self._groups = groups
        self._outbox = outbox
        self._clock = clock
        self._bot_names = tuple(n for n in bot_names if n)
        self._other_bots = frozenset(other_bot_ids)
        self._escalation = escalation
        self._faq_book = faq_book
        self._audit = audit
        limits = limits or RateLimits()
        self._per_resident = SlidingWindowLimiter(limits.per_resident, limits.window)
        self._per_group = SlidingWindowLimiter(limits.per_group, limits.window)
        self._warned: SlidingWindowLimiter = SlidingWindowLimiter(1, limits.window)
        # The queued question behind the choices each resident was offered last (bounded, oldest out first)
        self._offered_questions: OrderedDict[tuple[str, str], int] = OrderedDict()

    def handle(self, message: InboundMessage) -> Handling:
        """Decide, answer and queue; every path returns an outcome, none raises for bad input."""
        now = self._clock.now()
        if message.from_self or message.sender_id in self._other_bots:
            return Handling("ignored_bot")
        if self._outbox.seen(message.message_id):
            return Handling("duplicate")
        if self._escalation is not None and self._escalation.is_staff_group(message.group_id):
            return self._staff_message(message)
        keywords: tuple[str, ...] = ()
        trigger = TriggerMode.MENTION
        if not message.is_private:
            config = self._groups.get_or_register(
                group_id=message.group_id, channel=message.channel, name=message.group_name, now=now
            )
            if not config.enabled:
                return Handling("group_disabled")
            trigger, keywords = config.trigger, config.keywords

        text, addressed = self._addressed_text(message, trigger, keywords)
        if not addressed:
            return Handling("not_addressed")
        if message.kind is not MessageKind.TEXT:
            return self._queue(message, NON_TEXT_HINT, "non_text_hint")

        limited = self._over_limit(message, now)
        if limited is not None:
            if self._warned.allow(f"{message.group_id}|{message.sender_id}", now):
                return self._queue(message, limited, "rate_limited")
            recorded = self._outbox.complete(message.message_id, [], now=now, outcome="rate_limited_silent")
            return Handling("rate_limited_silent", recorded=recorded)

        question = Question(text, message.group_id, message.sender_id, message.at, message.channel)
        if self._escalation is not None and wants_a_person(text):
            # "转人工" alone tells staff nothing: what the resident asked just before is the question.
            previous = self._assistant.previous_question(question, within=HANDOFF_CONTEXT)
            if previous and is_bare_handoff(text):
                question = dataclasses.replace(question, text=previous)
            # Every request for a person is its own entry: two residents saying "转人工" want different things.
            self._escalation.escalate(question, reason="handoff", urgent=True, join_similar=False)
            return self._queue(message, HANDOFF_TEXT, "handed_off")
        reply = self._assistant.reply(question)
        if self._escalation is not None:
            self._escalate_refusals(question, reply)
            if reply.reason == "chosen":
                self._close_picked(question, reply)
        return self._queue(message, reply.text, "answered" if reply.answered else f"replied:{reply.reason}")

    def _over_limit(self, message: InboundMessage, now: datetime) -> str | None:
        """The notice for a message over a rate limit, or None: each resident has a limit (in each group and in
        private chat), and each group one more; private chats share no bucket."""
        if not self._per_resident.allow(f"{message.group_id}|{message.sender_id}", now):
            return RATE_LIMITED_TEXT
        if not message.is_private and not self._per_group.allow(message.group_id, now):
            return GROUP_BUSY_TEXT
        return None

    def _escalate_refusals(self, question: Question, reply: Reply) -> None:
        """Every part the reply told the resident was passed to staff goes into the unanswered queue."""
        assert self._escalation is not None
        if reply.reason == "output_blocked":
            self._escalation.escalate(question, reason=reply.reason)
            return
        key = (question.group_id, question.user_id)
        for answer in reply.answers:
            if not answer.answered and answer.reason in ESCALATED_REASONS:
                part = dataclasses.replace(question, text=answer.question)
                candidates = tuple(hit.entry_id for hit in answer.hits[:3])
                queued = self._escalation.escalate(part, reason=answer.reason, candidates=candidates)
                if answer.choices and len(reply.answers) == 1:
                    self._offered_questions.pop(key, None)
                    self._offered_questions[key] = queued.id
                    while len(self._offered_questions) > _OFFERED_CAPACITY:
                        self._offered_questions.popitem(last=False)

    def _close_picked(self, question: Question, reply: Reply) -> None:
        """A resident who found the answer among the choices needs no staff answer: their question is closed, unless
        other residents wait on it too. Staff see the pick in the closing note (a wording to add as a phrasing)."""
        assert self._escalation is not None
        number = self._offered_questions.pop((question.group_id, question.user_id), None)
        picked = reply.primary.top if reply.primary else None
        if number is None or picked is None:
            return
        queued = self._escalation.get(number)
        if queued is None or queued.status is not QuestionStatus.OPEN:
            return
        if any((a.group_id, a.user_id) != (question.group_id, question.user_id) for a in queued.askers):
            return
        note = f"居民从候选里选了“{choice_label(picked)}”"
        self._escalation.close(number, note, actor=ASSISTANT)

    def _staff_message(self, message: InboundMessage) -> Handling:
        """In the staff group only "#12 答：…", "#12 入库" and "#12 关闭" mean something."""
        assert self._escalation is not None
        text = strip_mentions(message.text, self._bot_names)[0]
        if message.kind is not MessageKind.TEXT:
            return Handling("staff_chatter")
        actor = Actor.staff_group(message.sender_name or message.sender_id)
        to_knowledge = parse_staff_to_knowledge(text)
        if to_knowledge is not None and self._faq_book is not None:
            question = self._escalation.get(to_knowledge)
            try:
                if question is None:
                    raise NotAnsweredError(f"没有 #{to_knowledge}")
                entry_id = self._faq_book.add(question)
            except (NotAnsweredError, FaqEditError) as exc:
                return self._queue(message, f"没能加入知识库：{exc}。", "staff_faq_refused")
            if self._audit is not None:
                self._audit.record_as(actor, "faq_added", target=entry_id, detail=f"#{to_knowledge}")
            reply = f"已把 #{to_knowledge} 加入知识库（{entry_id}），以后居民再问会自动回答。"
            return self._queue(message, reply, "staff_faq_added")
        closing = parse_staff_close(text)
        if closing is not None:
            number, note = closing
            try:
                self._escalation.close(number, note, actor=actor)
            except QuestionNotOpenError:
                return self._queue(message, f"没有找到待答的 #{number}（可能已经处理过了）。", "staff_unknown_number")
            return self._queue(message, f"已关闭 #{number}，不会发消息给居民。", "staff_closed")
        parsed = parse_staff_answer(text)
        if parsed is None:
            return Handling("staff_chatter")
        number, answer = parsed
        try:
            answered = self._escalation.answer(number, answer, actor=actor)
        except QuestionNotOpenError:
            return self._queue(message, f"没有找到待答的 #{number}（可能已经答过了）。", "staff_unknown_number")
        count = len({(a.group_id, a.user_id) for a in answered.askers})
        return self._queue(message, f"已把 #{number} 的答复发给 {count} 位居民。", "staff_answered")

    def _addressed_text(
        self, message: InboundMessage, trigger: TriggerMode, keywords: tuple[str, ...]
    ) -> tuple[str, bool]:
        text, typed_mention = strip_mentions(message.text, self._bot_names)
        if message.is_private or message.mentions_self or typed_mention:
            return text, True
        if self._assistant.awaits_choice(message.group_id, message.sender_id, text):
            return text, True  # "2" right after the choices were offered needs no @
        if trigger is TriggerMode.ALL:
            # Only text counts as talking to us here: a picture in a busy group gets no "send text" hint.
            return text, message.kind is MessageKind.TEXT
        if trigger is TriggerMode.MENTION:
            return text, False
        for keyword in sorted(keywords, key=len, reverse=True):
            if text.startswith(keyword):
                return text[len(keyword) :].lstrip(" ：:，,"), True
        return text, False

    def _queue(self, message: InboundMessage, text: str, outcome: str) -> Handling:
        reply = OutboundMessage(
            channel=message.channel,
            text=text,
            group_id=message.group_id,
            user_id=message.sender_id if message.is_private else "",
            mention_ids=() if message.is_private else (message.sender_id,),
        )
        if not self._outbox.complete(message.message_id, [reply], now=self._clock.now(), outcome=outcome):
            return Handling("duplicate")
        return Handling(outcome, [reply], recorded=True)
