"""Notices to many groups (通知公告, 一键发布, 定时播报): compose, preview, send now or on a schedule, edit or withdraw
before it goes out, follow each run's delivery per group and retry the failed ones. Every action is audited here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta, tzinfo

from bot.domain.groups import GroupConfig
from bot.domain.messages import OutboundMessage
from bot.domain.notices import (
    Notice,
    NoticeAlreadySubmittedError,
    NoticeDraft,
    NoticeError,
    NoticeEvent,
    NoticePreview,
    NoticeRun,
    NoticeSchedule,
    NoticeStatus,
    NoticeUrgency,
    RunProgress,
    RunState,
    ScheduleKind,
    in_scope,
    manual_run_key,
    resolve_targets,
    scheduled_run_key,
    wechat_targets,
)
from bot.domain.outbox import OutboxStatus
from bot.domain.privacy import mask_personal_data
from bot.domain.staff import ASSISTANT, Actor
from bot.domain.workflow import TransitionNotAllowed
from bot.ports import Clock, DeliveryRecord, GroupDirectory, JobPlanner, NoticeStore
from bot.services.audit import StaffAudit

log = logging.getLogger(__name__)
# The scheduler's job that sends a notice's scheduled run (kwargs: notice_id), and the one finishing interrupted runs
SEND_NOTICE = "send_notice"
RESUME_NOTICE_RUNS = "resume_notice_runs"
HISTORY_LIMIT = 200
DRAFT = NoticeStatus.DRAFT


@dataclass(frozen=True, slots=True)
class NoticeOverview:
    """A notice as the history lists it: the notice, where its targets stand and its latest run's progress."""

    notice: Notice
    targets: str
    schedule: str
    latest: RunProgress | None


class NoticeDesk:
    """Publishes notices through the outbox, now or through the scheduler; scope is the community an author may
    reach (None: every community, an admin)."""

    def __init__(
        self,
        store: NoticeStore,
        groups: GroupDirectory,
        outbox: DeliveryRecord,
        *,
        scheduler: JobPlanner,
        clock: Clock,
        audit: StaffAudit,
        zone: tzinfo,
        misfire_grace: timedelta,
        confirm_within: timedelta = timedelta(minutes=5),
    ) -> None:
        self._store = store
        self._groups = groups
        self._outbox = outbox
        self._scheduler = scheduler
        self._clock = clock
        self._audit = audit
        self._zone = zone
        self._grace = misfire_grace
        self._confirm_within = confirm_within

    @property
    def zone(self) -> tzinfo:
        """The deployment's local timezone, which schedules are read in."""
        return self._zone

    def reachable_groups(self, scope: str | None) -> list[GroupConfig]:
        """The enabled groups an author of scope may send to."""
        return [g for g in self._groups.all() if g.enabled and in_scope(g, scope)]

    def preview(self, draft: NoticeDraft, *, scope: str | None) -> NoticePreview:
        """Exactly what residents will read and the groups it would go to now; NoticeError for a draft that cannot
        be sent (empty, too long, Markdown, no target, or no group matching)."""
        checked = draft.checked()
        groups = tuple(resolve_targets(checked.targets, self._groups.all(), scope))
        if not groups:
            raise NoticeError("所选范围里没有开启的群：请换一个范围，或先在“群管理”里开启群、设置社区和标签。")
        return NoticePreview(checked, groups)

    def publish(self, draft: NoticeDraft, *, actor: Actor, scope: str | None, origin: str = "") -> Notice:
        """Save a notice and send it now or schedule it (audited once); NoticeError as preview. origin: the key of
        the form it was submitted with; the same form submitted again (a double click) publishes nothing more."""
        checked = self.preview(draft, scope=scope).draft
        now = self._clock.now()
        before = self._store.by_origin(origin) if origin else None
        if before is not None:
            return before
        try:
            notice = self._store.add(
                checked, author=actor.name, author_username=actor.username, scope=scope, now=now, origin=origin or None
            )
        except NoticeAlreadySubmittedError as first:
            return first.notice  # another request with the same form got there first
        if checked.schedule.kind is ScheduleKind.NOW:
            run = self._run(notice, manual_run_key(now), actor=actor)
            self._record(actor, "notice_sent", notice.id, f"{checked.title}：发往 {run.groups} 个群")
            return self._store.get(notice.id) or notice
        self._schedule(notice)
        self._record(actor, "notice_scheduled", notice.id, f"{checked.title}：{checked.schedule.describe(self._zone)}")
        return notice

    def propose(self, word: str, text: str, *, actor: Actor, scope: str | None) -> NoticePreview:
        """A notice written in the staff WeChat group ("#通知 <word> <text>", urgent: it is typed for something that
        cannot wait): stored as the author's draft to be confirmed within the confirmation time; NoticeError when the
        word names no group, community or tag, or the text cannot be sent."""
        targets = wechat_targets(word, self.reachable_groups(scope))
        title = " ".join(text.split())[:20]
        draft = NoticeDraft(title, text, NoticeUrgency.URGENT, targets, NoticeSchedule(ScheduleKind.NOW))
        shown = self.preview(draft, scope=scope)
        now = self._clock.now()
        author = actor.audit_name
        self._store.add(shown.draft, author=actor.name, author_username=author, scope=scope, now=now, status=DRAFT)
        return shown

    def confirm(self, *, actor: Actor) -> NoticeRun | None:
        """Send the actor's draft written within the confirmation time (audited); its run, or None when there is
        none."""
        since = self._clock.now() - self._confirm_within
        draft = self._store.latest_draft(actor.audit_name, since=since)
        if draft is None:
            return None
        run = self._run(draft, manual_run_key(self._clock.now()), actor=actor, event=NoticeEvent.CONFIRM)
        self._record(actor, "notice_sent", draft.id, f"{draft.draft.title}：微信确认，发往 {run.groups} 个群")
        return run

    @property
    def confirm_minutes(self) -> int:
        """How many minutes a draft from WeChat waits for "确认发送"."""
        return max(1, round(self._confirm_within.total_seconds() / 60))

    def refuse(self, actor: Actor, *, where: str) -> None:
        """Record an attempt to publish from WeChat by someone who may not (a resident, a private chat)."""
        self._audit.record_as(actor, "notice_refused", target=where[:128], detail="不是工作人员，未发送")

    def edit(self, notice_id: int, draft: NoticeDraft, *, actor: Actor, scope: str | None) -> Notice:
        """Change a scheduled notice before it goes out and schedule it anew; NoticeError or TransitionNotAllowed."""
        self.notice(notice_id, scope=scope)
        if draft.schedule.kind is ScheduleKind.NOW:
            raise NoticeError("修改定时通知时请选择发送时间；要马上发出，请新建一条通知。")
        checked = self.preview(draft, scope=scope).draft
        notice = self._store.move(
            notice_id, NoticeEvent.EDIT, actor=actor.audit_name, now=self._clock.now(), draft=checked
        )
        self._schedule(notice)
        self._record(actor, "notice_edited", notice.id, f"{checked.title}：{checked.schedule.describe(self._zone)}")
        return notice

    def withdraw(self, notice_id: int, *, actor: Actor, scope: str | None) -> Notice:
        """Withdraw a scheduled notice: its job is removed, it stays in the history; TransitionNotAllowed when it is
        no longer waiting."""
        self.notice(notice_id, scope=scope)
        notice = self._store.move(notice_id, NoticeEvent.WITHDRAW, actor=actor.audit_name, now=self._clock.now())
        self._scheduler.remove(notice.job_id)
        self._record(actor, "notice_withdrawn", notice.id, notice.draft.title)
        return notice

    def run_scheduled(self, notice_id: int) -> NoticeRun | None:
        """The send_notice job: the run of the fire time that just came (a run missed within the grace fires once);
        nothing for a notice withdrawn or sent meanwhile."""
        notice = self._store.get(notice_id)
        if notice is None or notice.status is not NoticeStatus.SCHEDULED:
            log.info("notice %s not sent: it is no longer scheduled", notice_id)
            return None
        now = self._clock.now()
        fire = notice.draft.schedule.last_fire_time(now, self._zone, within=self._grace + timedelta(minutes=1))
        try:
            run = self._run(notice, scheduled_run_key(fire or now), actor=ASSISTANT)
        except TransitionNotAllowed:
            return None  # withdrawn in the instant before
        self._record(ASSISTANT, "notice_sent", notice.id, f"{notice.draft.title}：定时发送，发往 {run.groups} 个群")
        return run

    def resume_unfinished(self) -> int:
        """Queue what runs interrupted by a crash had not queued yet (each group once); how many messages."""
        queued = 0
        for run in self._store.unfinished_runs():
            notice = self._store.get(run.notice_id)
            if notice is not None:
                queued += self._fan_out(notice, run)
        return queued

    def retry_failed(self, notice_id: int, run_key: str, *, actor: Actor, scope: str | None) -> int:
        """Queue a run's failed groups again (audited); how many."""
        self.notice(notice_id, scope=scope)
        progress = self.progress(notice_id, run_key, scope=scope)
        now = self._clock.now()
        again = sum(
            self._outbox.resend(d.id, now=now) for _, d in progress.deliveries if d.status is OutboxStatus.FAILED
        )
        if again:
            self._record(actor, "notice_retried", notice_id, f"重试 {again} 个群")
        return again

    def notice(self, notice_id: int, *, scope: str | None) -> Notice:
        """One notice an author of scope may see; NoticeError when there is none."""
        found = self._store.get(notice_id)
        if found is None or not (scope is None or found.scope == scope):
            raise NoticeError(f"没有找到通知 #{notice_id}。")
        return found

    def runs(self, notice_id: int, *, scope: str | None) -> list[RunProgress]:
        """Every run of a notice with its progress, the newest first."""
        self.notice(notice_id, scope=scope)
        names = self._names()
        return [self._progress(run, names) for run in self._store.runs(notice_id)]

    def progress(self, notice_id: int, run_key: str, *, scope: str | None) -> RunProgress:
        """One run's messages per status and per group; NoticeError when there is no such run."""
        self.notice(notice_id, scope=scope)
        run = self._store.run(notice_id, run_key)
        if run is None:
            raise NoticeError("没有找到这一次发送。")
        return self._progress(run, self._names())

    def history(self, *, scope: str | None) -> list[NoticeOverview]:
        """The notices an author of scope sees, newest first, with their latest run's progress."""
        names = self._names()
        listed = []
        for notice in self._store.listed(scope=scope, limit=HISTORY_LIMIT):
            runs = self._store.runs(notice.id)
            listed.append(
                NoticeOverview(
                    notice,
                    notice.draft.targets.describe(names),
                    notice.draft.schedule.describe(self._zone),
                    self._progress(runs[0], names) if runs else None,
                )
            )
        return listed

    def _record(self, actor: Actor, action: str, notice_id: int, detail: str) -> None:
        """The audit entry of one action on a notice (phone and ID numbers in a title written from WeChat masked)."""
        self._audit.record_as(actor, action, target=f"通知 #{notice_id}", detail=mask_personal_data(detail))

    def _schedule(self, notice: Notice) -> None:
        """Store the notice's job (replacing one stored before)."""
        schedule = notice.draft.schedule
        if schedule.kind is ScheduleKind.ONCE and schedule.at is not None:
            self._scheduler.at(SEND_NOTICE, schedule.at, job_id=notice.job_id, notice_id=notice.id)
        elif schedule.recurring:
            self._scheduler.cron(
                SEND_NOTICE, schedule.crontab(), job_id=notice.job_id, timezone=self._zone, notice_id=notice.id
            )

    def _run(self, notice: Notice, run_key: str, *, actor: Actor, event: NoticeEvent = NoticeEvent.SEND) -> NoticeRun:
        """Record a run (a one-off's notice moved on event with it), then queue one message per target group (a run
        queued before is left as it is)."""
        move = None if notice.draft.schedule.recurring else event
        run = self._store.start_run(notice.id, run_key, event=move, actor=actor.audit_name, now=self._clock.now())
        if run.state is RunState.QUEUED:
            return run
        self._fan_out(notice, run)
        return self._store.run(notice.id, run_key) or run

    def _fan_out(self, notice: Notice, run: NoticeRun) -> int:
        """Queue the run's message to every group its targets reach now (groups added since included)."""
        groups = resolve_targets(notice.draft.targets, self._groups.all(), notice.scope)
        messages = [OutboundMessage(g.channel, notice.draft.text, group_id=g.group_id) for g in groups]
        return self._store.fan_out(run, messages, priority=notice.draft.urgency.priority, now=self._clock.now())

    def _names(self) -> dict[str, str]:
        """Every known group's name by id."""
        return {g.group_id: g.name or g.group_id for g in self._groups.all()}

    def _progress(self, run: NoticeRun, names: dict[str, str]) -> RunProgress:
        """A run's deliveries, each with its group's name."""
        deliveries = self._outbox.deliveries(run.source)
        group_ids = (_group_of(d.target) for d in deliveries)
        return RunProgress(run, tuple((names.get(g, g), d) for g, d in zip(group_ids, deliveries, strict=True)))


def _group_of(target: str) -> str:
    """The group id of a delivery target "<channel>:group:<id>"."""
    return target.split(":group:", 1)[1] if ":group:" in target else target
