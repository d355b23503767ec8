"""The petition deadline job: cases due within a few hours or past their deadline are reminded to the department
they were dispatched to (once a day each) and summed up for the cadres' staff group; a case overdue for long is
escalated to the street office (吹哨), automatically at most once."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from bot.domain.messages import OutboundMessage, excerpt
from bot.domain.petitions import Petition, PetitionMoveRefused
from bot.domain.routing import DeadlineRun, Reminder
from bot.domain.staff import ASSISTANT
from bot.ports import Clock, Outbox, PetitionStore
from bot.services.petitions import EscalationTargetMissingError, PetitionDesk
from bot.services.routing import NOTICE_CHARS, PetitionRouting

log = logging.getLogger(__name__)

# How many cases one run looks at (the earliest deadlines first), and names in the staff group's summary.
RUN_LIMIT = 300
_SUMMARY_NAMED = 20


class DeadlineWatch:
    """Reminds departments and cadres of cases due soon or overdue, and escalates the long overdue ones."""

    def __init__(
        self,
        store: PetitionStore,
        desk: PetitionDesk,
        routing: PetitionRouting,
        outbox: Outbox,
        clock: Clock,
        *,
        due_soon: timedelta = timedelta(hours=4),
        escalate_after: timedelta = timedelta(hours=24),
        staff_group_id: str = "",
        staff_channel: str = "wechat",
        utc_offset: timedelta = timedelta(hours=8),
        limit: int = RUN_LIMIT,
    ) -> None:
        """due_soon: how long before its deadline a case is reminded; escalate_after: how long past it a case is
        escalated automatically; limit: cases looked at per run."""
        self._store = store
        self._desk = desk
        self._routing = routing
        self._outbox = outbox
        self._clock = clock
        self._due_soon = due_soon
        self._escalate_after = escalate_after
        self._staff_group_id = staff_group_id
        self._staff_channel = staff_channel
        self._utc_offset = utc_offset
        self._limit = limit

    def run(self) -> DeadlineRun:
        """One run (the hourly job): escalate cases overdue by more than escalate_after never escalated before,
        remind each case due soon or overdue once a day (its department's group and robot), and tell the staff group
        of the cases reminded and escalated in this run."""
        now = self._clock.now()
        cases = self._store.due_before(now + self._due_soon, limit=self._limit)
        escalated = self._escalate(c for c in cases if c.due_at is not None and c.due_at < now - self._escalate_after)
        day = (now + self._utc_offset).date().isoformat()
        reminded: dict[Reminder, list[Petition]] = {Reminder.OVERDUE: [], Reminder.DUE_SOON: []}
        for petition in cases:
            kind = Reminder.OVERDUE if petition.overdue(now) else Reminder.DUE_SOON
            notices = self._routing.reminded(petition, self._reminder_text(petition, kind))
            if self._store.remind(petition.id, f"{kind.value}:{day}", at=now, messages=notices.messages):
                reminded[kind].append(petition)
        summarised = False
        text = self._summary(reminded, escalated)
        if text and self._staff_group_id:
            message = OutboundMessage(self._staff_channel, text, group_id=self._staff_group_id)
            summarised = self._outbox.enqueue(
                message, now=now, source="petition:deadlines", dedupe_key=f"petition:deadlines:{now.isoformat()}"
            )
        return DeadlineRun(tuple(p.number for kind in reminded for p in reminded[kind]), tuple(escalated), summarised)

    def _escalate(self, overdue: Iterable[Petition]) -> list[str]:
        """Escalate each long-overdue case never escalated before; the numbers escalated."""
        escalated: list[str] = []
        for petition in overdue:
            if petition.escalated_at is not None or petition.due_at is None:
                continue
            hours = int((self._clock.now() - petition.due_at) / timedelta(hours=1))
            reason = f"超过办理期限 {hours} 小时仍未办结，自动吹哨"
            try:
                if self._desk.escalate(petition.number, reason, actor=ASSISTANT, once=True) is not None:
                    escalated.append(petition.number)
            except EscalationTargetMissingError:
                log.warning("overdue petitions not escalated: no street office is set up")
                break
            except PetitionMoveRefused:  # moved meanwhile (resolved): nothing to escalate
                continue
        return escalated

    def _reminder_text(self, petition: Petition, kind: Reminder) -> str:
        """What the department is told of one case."""
        assert petition.due_at is not None  # only cases with a deadline are reminded
        number = petition.number
        where = f"，{petition.location}" if petition.location else ""
        due = self._routing.local_time(petition.due_at)
        return (
            f"【诉求{kind.label} {number}】期限 {due}：{petition.category}{where}，"
            f"“{excerpt(petition.description, 60)}”。请尽快办理，办结回复“{number} 办结：说明”。"
        )

    def _summary(self, reminded: dict[Reminder, list[Petition]], escalated: list[str]) -> str:
        """The staff group's summary of one run ("" when nothing new)."""
        parts = []
        for kind in (Reminder.OVERDUE, Reminder.DUE_SOON):
            cases = reminded[kind]
            if cases:
                named = "、".join(f"{p.number}（{p.department or '未派单'}）" for p in cases[:_SUMMARY_NAMED])
                more = f"等 {len(cases)} 件" if len(cases) > _SUMMARY_NAMED else f"共 {len(cases)} 件"
                parts.append(f"{kind.label}：{named}，{more}")
        if escalated:
            parts.append(f"已自动吹哨（通知街道）：{'、'.join(escalated[:_SUMMARY_NAMED])}")
        if not parts:
            return ""
        return ("【诉求期限提醒】" + "；".join(parts) + "。")[:NOTICE_CHARS]
