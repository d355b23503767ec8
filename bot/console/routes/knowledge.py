"""The knowledge base: files and FAQ entries, uploads, FAQ editing, re-ingestion with progress, and 试一试."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from bot.console.web import ForbiddenError, Services, StaffSession, acting, allowed, page, redirect
from bot.domain.conversation import Question
from bot.domain.knowledge import KnowledgeEntry
from bot.domain.staff import Permission
from bot.rag.loaders import SIMILAR_SEPARATOR
from bot.services.dashboard import CONSOLE_CHANNEL
from bot.services.faq_book import FaqDraft, FaqEditError
from bot.services.knowledge_admin import UploadError, UploadForbiddenError

router = APIRouter()
Librarian = Annotated[StaffSession, allowed(Permission.MANAGE_KNOWLEDGE)]
Editing = Annotated[StaffSession, acting(Permission.MANAGE_KNOWLEDGE)]


@router.get("/knowledge", response_class=HTMLResponse)
def overview(request: Request, console: Services, session: Librarian, q: str = "") -> Response:
    """The files with their state, the FAQ entries (searchable) and the re-ingest panel."""
    return _overview(request, console, session, q=q)


@router.post("/knowledge/upload", response_class=HTMLResponse)
def upload(request: Request, console: Services, session: Editing, file: Annotated[UploadFile, File()]) -> Response:
    """Store an uploaded file after checking that it parses, then re-ingest in the background.

    A plain (not async) route: FastAPI runs it on a worker thread, so parsing a large or hostile file never holds
    up the event loop that serves every other request.
    """
    data = file.file.read(console.knowledge.upload_limit + 1)
    try:
        relative, replaced = console.knowledge.upload(file.filename or "", data, session.user)
    except UploadForbiddenError as exc:
        return _overview(request, console, session, error=str(exc), status_code=403)
    except UploadError as exc:
        return _overview(request, console, session, error=str(exc), status_code=400)
    console.audit.record(
        session.user, "file_uploaded", target=relative, detail="替换" if replaced else "新增", ip=session.ip
    )
    console.knowledge.start_reindex()
    return redirect("/knowledge", notice="uploaded")


@router.post("/knowledge/reindex")
def reindex(console: Services, session: Editing) -> Response:
    """Start a re-ingestion in the background (the page shows its progress)."""
    started = console.knowledge.start_reindex()
    if started:
        console.audit.record(session.user, "reindexed", ip=session.ip)
    return redirect("/knowledge", notice="reindex_started" if started else "reindex_running")


@router.post("/knowledge/reindex/cancel")
def cancel_reindex(console: Services, session: Editing) -> Response:
    """Stop the running re-ingestion; the previous index keeps serving."""
    cancelled = console.knowledge.cancel_reindex()
    if cancelled:
        console.audit.record(session.user, "reindex_cancelled", ip=session.ip)
    return redirect("/knowledge", notice="reindex_cancelling" if cancelled else "reindex_idle")


@router.get("/knowledge/reindex/status")
def reindex_status(console: Services, session: Librarian) -> JSONResponse:
    """Progress of the latest re-ingestion, for the page's progress bar."""
    status = console.knowledge.status()
    return JSONResponse(
        {
            "running": status.running,
            "percent": status.percent,
            "done": status.done,
            "total": status.total,
            "summary": status.summary,
            "failures": list(status.failures),
            "error": status.error,
        }
    )


@router.get("/knowledge/faq/new", response_class=HTMLResponse)
def new_faq_form(request: Request, session: Librarian) -> Response:
    """An empty FAQ form."""
    return page(request, "faq_form.html", session, entry_id="", draft=FaqDraft("", ""), error="")


class FaqForm(BaseModel):
    """The fields of the FAQ form."""

    question: str = Field(default="", max_length=1000)
    similar: str = Field(default="", max_length=5000)
    answer: str = Field(default="", max_length=5000)
    category: str = Field(default="", max_length=100)
    source: str = Field(default="", max_length=200)

    def draft(self, session: StaffSession, *, community: str = "") -> FaqDraft:
        """The entry as the FAQ book writes it (one similar question per line; the author as default source)."""
        lines = [line.strip() for line in self.similar.replace(SIMILAR_SEPARATOR, "\n").splitlines()]
        return FaqDraft(
            question=self.question.strip(),
            answer=self.answer.strip(),
            similar_questions=tuple(line for line in lines if line),
            category=self.category.strip(),
            source=self.source.strip() or f"社区工作人员（{session.user.display_name or session.user.username}）",
            community=community,
        )


@router.post("/knowledge/faq/new", response_class=HTMLResponse)
def create_faq(request: Request, console: Services, session: Editing, form: Annotated[FaqForm, Form()]) -> Response:
    """Add an entry to the staff FAQ table and re-index."""
    draft = form.draft(session)
    try:
        entry_id = console.faq_book.create(draft)
    except FaqEditError as exc:
        return page(request, "faq_form.html", session, status_code=400, entry_id="", draft=draft, error=str(exc))
    console.audit.record(session.user, "faq_added", target=entry_id, detail=draft.question, ip=session.ip)
    return redirect(f"/knowledge?q={entry_id}", notice="faq_saved")


@router.get("/knowledge/faq/{entry_id}", response_class=HTMLResponse)
def edit_faq_form(request: Request, console: Services, session: Librarian, entry_id: str) -> Response:
    """The edit form of one FAQ entry."""
    entry = _entry(console, session, entry_id)
    draft = FaqDraft(
        entry.questions[0] if entry.questions else entry.title,
        entry.answer,
        entry.questions[1:],
        entry.category,
        entry.source,
        entry.community,
    )
    return page(request, "faq_form.html", session, entry_id=entry_id, draft=draft, error="", file=entry.file)


@router.post("/knowledge/faq/{entry_id}", response_class=HTMLResponse)
def update_faq(
    request: Request, console: Services, session: Editing, entry_id: str, form: Annotated[FaqForm, Form()]
) -> Response:
    """Rewrite the entry in its table and re-index."""
    entry = _entry(console, session, entry_id)
    draft = form.draft(session, community=entry.community)
    try:
        console.faq_book.update(entry_id, draft)
    except FaqEditError as exc:
        return page(
            request,
            "faq_form.html",
            session,
            status_code=400,
            entry_id=entry_id,
            draft=draft,
            error=str(exc),
            file=entry.file,
        )
    console.audit.record(session.user, "faq_updated", target=entry_id, detail=draft.question, ip=session.ip)
    return redirect(f"/knowledge?q={entry_id}", notice="faq_saved")


@router.get("/knowledge/try", response_class=HTMLResponse)
def try_form(request: Request, session: Librarian) -> Response:
    """The 试一试 box."""
    return page(request, "try.html", session, text="", reply=None, answers=[], decision=None)


@router.post("/knowledge/try", response_class=HTMLResponse)
def try_question(
    request: Request, console: Services, session: Editing, text: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    """Ask as a resident would: the exact reply path of the chat, with its sources and scores shown."""
    question = Question(
        text, group_id=CONSOLE_CHANNEL, user_id=f"console:{session.user.username}", channel=CONSOLE_CHANNEL
    )
    reply = console.assistant.reply(question)
    decision = console.answering.decision()
    return page(request, "try.html", session, text=text, reply=reply, answers=list(reply.answers), decision=decision)


def _overview(
    request: Request, console: Services, session: StaffSession, *, q: str = "", error: str = "", status_code: int = 200
) -> Response:
    query = q.strip().lower()
    entries = [
        e
        for e in console.faq_book.entries()
        if session.user.sees_knowledge(e.community)
        if not query or query in " ".join((e.id, e.title, e.answer, *e.questions)).lower()
    ]
    return page(
        request,
        "knowledge.html",
        session,
        status_code=status_code,
        files=console.knowledge.files(),
        entries=entries[:200],
        total_entries=len(entries),
        q=q,
        error=error,
        status=console.knowledge.status(),
        upload_mb=console.settings.upload_max_mb,
    )


def _entry(console: Services, session: StaffSession, entry_id: str) -> KnowledgeEntry:
    entry = console.faq_book.entry(entry_id)
    if entry is None or not session.user.sees_knowledge(entry.community):
        raise ForbiddenError
    return entry
