"""The unanswered queue: questions the assistant passed to staff, answered back into the residents' groups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bot.console.web import ForbiddenError, Services, StaffSession, acting, allowed, page, redirect
from bot.domain.escalation import QuestionNotOpenError, QuestionStatus, UnansweredQuestion
from bot.domain.knowledge import case_specific_signs
from bot.domain.staff import Actor, Permission
from bot.services.escalation import EmptyAnswerError
from bot.services.faq_book import FaqEditError, NotAnsweredError

router = APIRouter()
Answerer = Annotated[StaffSession, allowed(Permission.ANSWER_QUESTIONS)]
Answering = Annotated[StaffSession, acting(Permission.ANSWER_QUESTIONS)]
Librarian = Annotated[StaffSession, acting(Permission.MANAGE_KNOWLEDGE)]
MAX_ANSWER_CHARS = 1000


@router.get("/questions", response_class=HTMLResponse)
def queue(request: Request, console: Services, session: Answerer, status: str = "open") -> Response:
    """Open questions (urgent first, then oldest), or the latest answered or closed ones, of the user's community."""
    shown = QuestionStatus(status) if status in {s.value for s in QuestionStatus} else QuestionStatus.OPEN
    listed = console.escalation.queue(community=session.user.community_scope, status=shown)
    names = {g.group_id: g.name for g in console.groups.all(community=session.user.community_scope)}
    return page(
        request,
        "questions.html",
        session,
        questions=listed,
        status=shown.value,
        names=names,
        now=console.clock.now(),
        overdue_minutes=console.settings.unanswered_remind_minutes,
    )


@router.get("/questions/{number}", response_class=HTMLResponse)
def question(request: Request, console: Services, session: Answerer, number: int) -> Response:
    """One question: who asked, in which group, what retrieval found, and the answer form."""
    found = _visible(console, session, number)
    return _question_page(request, console, session, found)


@router.post("/questions/{number}/answer", response_class=HTMLResponse)
def answer(
    request: Request,
    console: Services,
    session: Answering,
    number: int,
    answer: Annotated[str, Form(max_length=5000)] = "",
    to_knowledge: Annotated[str, Form(max_length=10)] = "",
    confirm_faq: Annotated[str, Form(max_length=10)] = "",
    skip_faq: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Send the answer to every asker (in their group, @-mentioned, through the outbox); optionally add a FAQ entry.

    An answer that reads as about this one case goes to the FAQ only once staff confirm it ("仍然加入").
    """
    found = _visible(console, session, number)
    text = answer.strip()
    error = "" if text else "请填写答复内容。"
    if len(text) > MAX_ANSWER_CHARS:
        error = f"答复太长（最多 {MAX_ANSWER_CHARS} 字），居民在手机上看不完，请精简。"
    if error:
        return _question_page(request, console, session, found, error=error, draft=answer, status_code=400)
    to_knowledge = "" if skip_faq else to_knowledge
    signs = case_specific_signs(text) if to_knowledge and not confirm_faq else ()
    if signs:
        return _question_page(request, console, session, found, draft=answer, case_signs=signs)
    try:
        answered = console.escalation.answer(number, text, actor=Actor.console(session.user, ip=session.ip))
    except QuestionNotOpenError:
        return _question_page(request, console, session, found, error="这个问题已经有人答过了。", status_code=409)
    except EmptyAnswerError:
        return _question_page(request, console, session, found, error="请填写答复内容。", status_code=400)
    askers = len({(a.group_id, a.user_id) for a in answered.askers})
    if to_knowledge:
        return _add_to_knowledge(request, console, session, answered)
    return redirect(f"/questions/{number}", notice=f"answered:{askers}")


@router.post("/questions/{number}/close", response_class=HTMLResponse)
def close(
    request: Request,
    console: Services,
    session: Answering,
    number: int,
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Take the question off the queue without answering (chit-chat, a duplicate, settled in the group)."""
    found = _visible(console, session, number)
    try:
        console.escalation.close(number, note, actor=Actor.console(session.user, ip=session.ip))
    except QuestionNotOpenError:
        return _question_page(request, console, session, found, error="这个问题已经处理过了。", status_code=409)
    return redirect(f"/questions/{number}", notice="closed")


@router.post("/questions/{number}/faq", response_class=HTMLResponse)
def to_faq(
    request: Request,
    console: Services,
    session: Librarian,
    number: int,
    confirm_faq: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Turn an answered question into a FAQ entry (the residents' wordings as similar questions) and re-index.

    An answer that reads as about this one case is added only once staff confirm it ("仍然加入").
    """
    found = _visible(console, session, number)
    signs = case_specific_signs(found.answer or "") if not confirm_faq else ()
    if signs:
        return _question_page(request, console, session, found, case_signs=signs)
    return _add_to_knowledge(request, console, session, found)


def _add_to_knowledge(
    request: Request, console: Services, session: StaffSession, found: UnansweredQuestion
) -> Response:
    if not session.user.may(Permission.MANAGE_KNOWLEDGE):
        raise ForbiddenError
    try:
        entry_id = console.faq_book.add(found)
    except (NotAnsweredError, FaqEditError) as exc:
        return _question_page(request, console, session, found, error=str(exc), status_code=400)
    console.audit.record(
        session.user, "faq_added", target=entry_id, detail=f"#{found.id} {found.question}", ip=session.ip
    )
    return redirect(f"/questions/{found.id}", notice="faq_added")


def _visible(console: Services, session: StaffSession, number: int) -> UnansweredQuestion:
    found = console.escalation.get(number)
    if found is None or not session.user.sees_community(found.community):
        # Another community's question is reported exactly like a missing one.
        raise ForbiddenError
    return found


def _question_page(
    request: Request,
    console: Services,
    session: StaffSession,
    found: UnansweredQuestion,
    *,
    error: str = "",
    draft: str = "",
    case_signs: tuple[str, ...] = (),
    status_code: int = 200,
) -> Response:
    names = {g.group_id: g.name for g in console.groups.all(community=session.user.community_scope)}
    titles = console.knowledge.titles()
    return page(
        request,
        "question.html",
        session,
        status_code=status_code,
        question=found,
        names=names,
        error=error,
        draft=draft,
        case_signs=case_signs,
        in_knowledge=f"faq-staff-{found.id}" in titles,
        candidates=[titles.get(entry_id, entry_id) for entry_id in found.candidates],
    )
