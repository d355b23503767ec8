"""通知公告 in the console: cadres (their community's groups) and admins (every group) compose a notice, preview exactly
what residents will read and which groups get it, send it now or schedule it, follow each run per group, retry the
failed groups, and edit or withdraw a scheduled notice before it goes out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from bot.console.web import Services, StaffSession, acting, allowed, page, redirect
from bot.domain.errors import AssistantError
from bot.domain.notices import (
    MAX_NOTICE_CHARS,
    MAX_TITLE_CHARS,
    WEEKDAYS,
    Notice,
    NoticeDraft,
    NoticeError,
    NoticeSchedule,
    NoticeStatus,
    NoticeTargets,
    NoticeUrgency,
    ScheduleKind,
)
from bot.domain.staff import Actor, Permission

router = APIRouter()
Publisher = Annotated[StaffSession, allowed(Permission.PUBLISH_NOTICES)]
Publishing = Annotated[StaffSession, acting(Permission.PUBLISH_NOTICES)]


class NoticeForm(BaseModel):
    """The compose form's fields (also carried, hidden, by the preview page to its confirm button)."""

    notice_id: int = Field(default=0, ge=0)  # 0: a new notice; else the scheduled notice being edited
    title: str = Field(default="", max_length=200)
    text: str = Field(default="", max_length=4000)
    urgency: str = Field(default=NoticeUrgency.ROUTINE.value, max_length=16)
    everyone: str = Field(default="", max_length=8)
    communities: list[str] = Field(default_factory=list, max_length=500)
    tags: list[str] = Field(default_factory=list, max_length=500)
    group_ids: list[str] = Field(default_factory=list, max_length=2000)
    schedule: str = Field(default=ScheduleKind.NOW.value, max_length=16)
    date: str = Field(default="", max_length=16)
    time_of_day: str = Field(default="", max_length=8)
    weekday: str = Field(default="", max_length=2)
    cron: str = Field(default="", max_length=120)
    origin: str = Field(default="", max_length=64)  # the preview's random key: one notice per confirmed preview

    def draft(self, console: Services) -> NoticeDraft:
        """The notice as composed; NoticeError naming the field that is wrong."""
        try:
            urgency = NoticeUrgency(self.urgency)
        except ValueError:
            raise NoticeError("请选择紧急程度。") from None
        schedule = NoticeSchedule.parse(
            self.schedule,
            date=self.date,
            time_of_day=self.time_of_day,
            weekday=self.weekday,
            cron=self.cron,
            zone=console.notices.zone,
            now=console.clock.now(),
        )
        targets = NoticeTargets.chosen(
            everyone=bool(self.everyone), communities=self.communities, tags=self.tags, group_ids=self.group_ids
        )
        return NoticeDraft(self.title, self.text, urgency, targets, schedule)

    @classmethod
    def of(cls, notice: Notice, console: Services) -> NoticeForm:
        """The form filled with a stored notice (to edit it)."""
        draft, schedule = notice.draft, notice.draft.schedule
        local = schedule.at.astimezone(console.notices.zone) if schedule.at is not None else None
        return cls(
            notice_id=notice.id,
            title=draft.title,
            text=draft.text,
            urgency=draft.urgency.value,
            everyone="1" if draft.targets.everyone else "",
            communities=list(draft.targets.communities),
            tags=list(draft.targets.tags),
            group_ids=list(draft.targets.group_ids),
            schedule=schedule.kind.value,
            date=f"{local:%Y-%m-%d}" if local else "",
            time_of_day=f"{local:%H:%M}" if local else schedule.time_of_day,
            weekday=str(schedule.weekday),
            cron=schedule.cron,
        )


NoticeFields = Annotated[NoticeForm, Form()]


@router.get("/notices", response_class=HTMLResponse)
def notices(request: Request, console: Services, session: Publisher) -> Response:
    """The history: who sent what to which groups, when, where it stands and how its latest run is going."""
    return page(request, "notices.html", session, history=console.notices.history(scope=session.user.community_scope))


@router.get("/notices/new", response_class=HTMLResponse)
def compose(request: Request, console: Services, session: Publisher) -> Response:
    """An empty compose form."""
    return _compose_page(request, console, session, NoticeForm())


@router.post("/notices/compose", response_class=HTMLResponse)
def recompose(request: Request, console: Services, session: Publishing, form: NoticeFields) -> Response:
    """Back from the preview to the compose form, with everything as it was typed."""
    return _compose_page(request, console, session, form)


@router.post("/notices/preview", response_class=HTMLResponse)
def preview(request: Request, console: Services, session: Publishing, form: NoticeFields) -> Response:
    """Exactly the text residents will read and the groups it goes to, with the button that sends or schedules it."""
    try:
        if form.notice_id:
            _scheduled(console, session, form.notice_id)
        shown = console.notices.preview(form.draft(console), scope=session.user.community_scope)
    except AssistantError as refused:
        return _compose_page(request, console, session, form, error=str(refused), status_code=400)
    return page(
        request,
        "notice_preview.html",
        session,
        form=form,
        preview=shown,
        origin=secrets.token_urlsafe(24),
        schedule=shown.draft.schedule.describe(console.notices.zone),
    )


@router.post("/notices/publish", response_class=HTMLResponse)
def publish(request: Request, console: Services, session: Publishing, form: NoticeFields) -> Response:
    """Send now or schedule the previewed notice (or save the edit of a scheduled one)."""
    actor, scope = Actor.console(session.user, ip=session.ip), session.user.community_scope
    try:
        if form.notice_id:
            saved = console.notices.edit(form.notice_id, form.draft(console), actor=actor, scope=scope)
            return redirect(f"/notices/{saved.id}", notice="notice_edited")
        saved = console.notices.publish(form.draft(console), actor=actor, scope=scope, origin=form.origin)
    except AssistantError as refused:
        return _compose_page(request, console, session, form, error=str(refused), status_code=400)
    done = "notice_sent" if saved.draft.schedule.kind is ScheduleKind.NOW else "notice_scheduled"
    return redirect(f"/notices/{saved.id}", notice=done)


@router.get("/notices/{notice_id}", response_class=HTMLResponse)
def notice_page(request: Request, console: Services, session: Publisher, notice_id: int, run: str = "") -> Response:
    """One notice: its text, targets and schedule, its runs, and one run's delivery per group."""
    return _notice_page(request, console, session, notice_id, run)


@router.get("/notices/{notice_id}/edit", response_class=HTMLResponse)
def edit(request: Request, console: Services, session: Publisher, notice_id: int) -> Response:
    """The compose form filled with a scheduled notice."""
    notice = _scheduled(console, session, notice_id)
    return _compose_page(request, console, session, NoticeForm.of(notice, console))


@router.post("/notices/{notice_id}/withdraw", response_class=HTMLResponse)
def withdraw(request: Request, console: Services, session: Publishing, notice_id: int) -> Response:
    """Withdraw a scheduled notice (kept in the history, never sent)."""
    try:
        console.notices.withdraw(
            notice_id, actor=Actor.console(session.user, ip=session.ip), scope=session.user.community_scope
        )
    except AssistantError as refused:
        return _notice_page(request, console, session, notice_id, "", error=str(refused), status_code=400)
    return redirect(f"/notices/{notice_id}", notice="notice_withdrawn")


@router.post("/notices/{notice_id}/retry", response_class=HTMLResponse)
def retry(
    request: Request,
    console: Services,
    session: Publishing,
    notice_id: int,
    run_key: Annotated[str, Form(max_length=40)],
) -> Response:
    """Queue the failed groups of one run again."""
    try:
        again = console.notices.retry_failed(
            notice_id, run_key, actor=Actor.console(session.user, ip=session.ip), scope=session.user.community_scope
        )
    except AssistantError as refused:
        return _notice_page(request, console, session, notice_id, run_key, error=str(refused), status_code=400)
    return redirect(f"/notices/{notice_id}?run={run_key}", notice=f"notice_retried:{again}")


def _scheduled(console: Services, session: StaffSession, notice_id: int) -> Notice:
    """A notice this account may see that is still waiting; NoticeError otherwise."""
    notice = console.notices.notice(notice_id, scope=session.user.community_scope)
    if notice.status is not NoticeStatus.SCHEDULED:
        raise NoticeError(f"通知 #{notice_id} 现在是“{notice.status.label}”，不能修改。")
    return notice


def _compose_page(
    request: Request,
    console: Services,
    session: StaffSession,
    form: NoticeForm,
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    groups = console.notices.reachable_groups(session.user.community_scope)
    return page(
        request,
        "notice_form.html",
        session,
        status_code=status_code,
        form=form,
        groups=groups,
        communities=sorted({g.community for g in groups if g.community}),
        tags=sorted({t for g in groups for t in g.tags}),
        urgencies=list(NoticeUrgency),
        kinds=list(ScheduleKind),
        weekdays=list(enumerate(WEEKDAYS)),
        max_chars=MAX_NOTICE_CHARS,
        max_title=MAX_TITLE_CHARS,
        error=error,
    )


def _notice_page(
    request: Request,
    console: Services,
    session: StaffSession,
    notice_id: int,
    run_key: str,
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    scope = session.user.community_scope
    try:
        notice = console.notices.notice(notice_id, scope=scope)
    except NoticeError as missing:
        return page(request, "problem.html", session, status_code=404, message=str(missing))
    runs = console.notices.runs(notice_id, scope=scope)
    shown = next((r for r in runs if r.run.run_key == run_key), runs[0] if runs else None)
    names = {g.group_id: g.name or g.group_id for g in console.groups.all()}
    return page(
        request,
        "notice.html",
        session,
        status_code=status_code,
        item=notice,  # "notice" is the page's message of a redirect
        targets=notice.draft.targets.describe(names),
        schedule=notice.draft.schedule.describe(console.notices.zone),
        runs=runs,
        shown=shown,
        error=error,
    )
