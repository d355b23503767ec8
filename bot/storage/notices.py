"""Notices and their runs in the database; a run's messages are queued in the outbox in one transaction, each group
at most once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.messages import OutboundMessage
from bot.domain.notices import (
    NOTICE_WORKFLOW,
    Notice,
    NoticeAlreadySubmittedError,
    NoticeDraft,
    NoticeEvent,
    NoticeRun,
    NoticeSchedule,
    NoticeStatus,
    NoticeTargets,
    NoticeUrgency,
    RunState,
    ScheduleKind,
    run_dedupe_key,
)
from bot.domain.outbox import SendPriority, dedupe_digest
from bot.storage.channel import queued_row
from bot.storage.models import NoticeRow, NoticeRunRow, OutboxRow
from bot.storage.workflow import apply_transition


class SqlNotices:
    """Notices, their runs, and the fan-out of a run into the outbox."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(
        self,
        draft: NoticeDraft,
        *,
        author: str,
        author_username: str,
        scope: str | None,
        now: datetime,
        status: NoticeStatus = NoticeStatus.SCHEDULED,
        origin: str | None = None,
    ) -> Notice:
        """Store a new notice, waiting for its (first) run, or a draft waiting for its author's confirmation. origin:
        the submitted form's key: NoticeAlreadySubmittedError, with the notice stored under it before, instead of a
        second one."""
        try:
            return self._add(draft, author, author_username, scope, now, status, origin)
        except IntegrityError:
            found = self.by_origin(origin) if origin else None
            if found is None:
                raise
            raise NoticeAlreadySubmittedError(found) from None

    def by_origin(self, origin: str) -> Notice | None:
        """The notice stored from one submitted form."""
        with self._sessions() as session:
            row = session.scalar(select(NoticeRow).where(NoticeRow.origin == origin))
            return _notice(row) if row is not None else None

    def _add(
        self,
        draft: NoticeDraft,
        author: str,
        author_username: str,
        scope: str | None,
        now: datetime,
        status: NoticeStatus,
        origin: str | None,
    ) -> Notice:
        with self._sessions.begin() as session:
            row = NoticeRow(
                **_draft_columns(draft),
                status=status.value,
                author=author[:128],
                author_username=author_username[:64],
                scope=scope,
                created_at=now,
                edited_at=None,
                edited_by="",
                origin=origin or None,
            )
            session.add(row)
            session.flush()
            return _notice(row)

    def get(self, notice_id: int) -> Notice | None:
        """One notice, if it exists."""
        with self._sessions() as session:
            row = session.get(NoticeRow, notice_id)
            return _notice(row) if row is not None else None

    def latest_draft(self, author_username: str, *, since: datetime) -> Notice | None:
        """The author's newest draft written at or after since."""
        query = (
            select(NoticeRow)
            .where(
                NoticeRow.author_username == author_username[:64],
                NoticeRow.status == NoticeStatus.DRAFT.value,
                NoticeRow.created_at >= since,
            )
            .order_by(NoticeRow.id.desc())
            .limit(1)
        )
        with self._sessions() as session:
            row = session.scalar(query)
            return _notice(row) if row is not None else None

    def listed(self, *, scope: str | None, limit: int) -> list[Notice]:
        """The newest notices first: every one (scope None), or those of one community's authors."""
        query = select(NoticeRow).order_by(NoticeRow.id.desc()).limit(limit)
        if scope is not None:
            query = query.where(NoticeRow.scope == scope)
        with self._sessions() as session:
            return [_notice(row) for row in session.scalars(query)]

    def move(
        self, notice_id: int, event: NoticeEvent, *, actor: str, now: datetime, draft: NoticeDraft | None = None
    ) -> Notice:
        """Move a notice through its workflow (an edit stores the new draft with it); TransitionNotAllowed when its
        status does not allow the event (withdrawn, or already sent)."""
        values: dict[str, Any] = {}
        if draft is not None:
            values = {**_draft_columns(draft), "edited_at": now, "edited_by": actor[:128]}
        with self._sessions.begin() as session:
            apply_transition(session, NOTICE_WORKFLOW, NoticeRow, notice_id, event, actor=actor, at=now, values=values)
            row = session.get(NoticeRow, notice_id)
            assert row is not None
            session.refresh(row)
            return _notice(row)

    def start_run(
        self, notice_id: int, run_key: str, *, event: NoticeEvent | None, actor: str, now: datetime
    ) -> NoticeRun:
        """Record a run before any of its messages is queued, or find it recorded before (the same fire time again,
        a resumed run). event: the move a one-off run makes in the same transaction (SEND, or CONFIRM of a draft
        from WeChat); None for a recurring notice, which must still be scheduled. TransitionNotAllowed when the
        notice is no longer waiting (withdrawn, already sent, or gone)."""
        for _ in range(3):
            found = self.run(notice_id, run_key)
            if found is not None:
                return found
            try:
                with self._sessions.begin() as session:
                    if event is not None:
                        apply_transition(session, NOTICE_WORKFLOW, NoticeRow, notice_id, event, actor=actor, at=now)
                    else:
                        status = session.scalar(select(NoticeRow.status).where(NoticeRow.id == notice_id))
                        if status != NoticeStatus.SCHEDULED:
                            known = NOTICE_WORKFLOW.status_of(status) if status is not None else None
                            raise NOTICE_WORKFLOW.refusal(notice_id, known, NoticeEvent.SEND)
                    session.add(
                        NoticeRunRow(
                            notice_id=notice_id, run_key=run_key, state=RunState.QUEUING.value, started_at=now, groups=0
                        )
                    )
            except IntegrityError:
                continue  # another process recorded it at the same moment
        found = self.run(notice_id, run_key)
        if found is None:
            raise RuntimeError(f"run {run_key} of notice {notice_id} could not be recorded")
        return found

    def run(self, notice_id: int, run_key: str) -> NoticeRun | None:
        """One run of a notice."""
        with self._sessions() as session:
            row = session.scalar(
                select(NoticeRunRow).where(NoticeRunRow.notice_id == notice_id, NoticeRunRow.run_key == run_key)
            )
            return _run(row) if row is not None else None

    def runs(self, notice_id: int) -> list[NoticeRun]:
        """Every run of a notice, the newest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(NoticeRunRow).where(NoticeRunRow.notice_id == notice_id).order_by(NoticeRunRow.id.desc())
            )
            return [_run(row) for row in rows]

    def unfinished_runs(self) -> list[NoticeRun]:
        """Runs recorded whose messages were not all queued (the process died), oldest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(NoticeRunRow).where(NoticeRunRow.state == RunState.QUEUING.value).order_by(NoticeRunRow.id)
            )
            return [_run(row) for row in rows]

    def fan_out(
        self, run: NoticeRun, messages: Sequence[OutboundMessage], *, priority: SendPriority, now: datetime
    ) -> int:
        """Queue one message per group of a run and mark the run queued, in one transaction; a group whose message
        this run queued before is left out, so no group gets a run twice. How many messages were queued now."""
        source = run.source
        keys = {
            m.group_id: dedupe_digest(m, source=source, key=run_dedupe_key(run.notice_id, run.run_key, m.group_id))
            for m in messages
        }
        for _ in range(3):
            try:
                with self._sessions.begin() as session:
                    queued_before = set(session.scalars(select(OutboxRow.dedupe_key).where(OutboxRow.source == source)))
                    missing = [m for m in messages if keys[m.group_id] not in queued_before]
                    for message in missing:
                        session.add(self._outbox_row(message, run, priority=priority, now=now))
                    session.execute(
                        update(NoticeRunRow)
                        .where(NoticeRunRow.notice_id == run.notice_id, NoticeRunRow.run_key == run.run_key)
                        .values(state=RunState.QUEUED.value, groups=len(queued_before) + len(missing))
                    )
                return len(missing)
            except IntegrityError:
                continue  # another process queued this run at the same moment: look again
        raise RuntimeError(f"run {run.run_key} of notice {run.notice_id} could not be queued")

    def _outbox_row(
        self, message: OutboundMessage, run: NoticeRun, *, priority: SendPriority, now: datetime
    ) -> OutboxRow:
        """The outbox row of one run's message to one group."""
        key = run_dedupe_key(run.notice_id, run.run_key, message.group_id)
        return queued_row(message, now, source=run.source, dedupe_key=key, priority=priority)


def _draft_columns(draft: NoticeDraft) -> dict[str, Any]:
    targets, schedule = draft.targets, draft.schedule
    return {
        "title": draft.title,
        "text": draft.text,
        "urgency": draft.urgency.value,
        "targets": {
            "everyone": targets.everyone,
            "communities": list(targets.communities),
            "tags": list(targets.tags),
            "group_ids": list(targets.group_ids),
        },
        "schedule": {
            "kind": schedule.kind.value,
            "at": schedule.at.isoformat() if schedule.at is not None else None,
            "time_of_day": schedule.time_of_day,
            "weekday": schedule.weekday,
            "cron": schedule.cron,
        },
    }


def _notice(row: NoticeRow) -> Notice:
    targets, schedule = row.targets, row.schedule
    draft = NoticeDraft(
        row.title,
        row.text,
        NoticeUrgency(row.urgency),
        NoticeTargets(
            bool(targets.get("everyone")),
            tuple(targets.get("communities", ())),
            tuple(targets.get("tags", ())),
            tuple(targets.get("group_ids", ())),
        ),
        NoticeSchedule(
            ScheduleKind(schedule["kind"]),
            datetime.fromisoformat(schedule["at"]) if schedule.get("at") else None,
            schedule.get("time_of_day", ""),
            int(schedule.get("weekday", 0)),
            schedule.get("cron", ""),
        ),
    )
    return Notice(
        row.id,
        draft,
        NoticeStatus(row.status),
        row.author,
        row.author_username,
        row.scope,
        row.created_at,
        row.edited_at,
        row.edited_by,
    )


def _run(row: NoticeRunRow) -> NoticeRun:
    return NoticeRun(row.notice_id, row.run_key, RunState(row.state), row.started_at, row.groups)
