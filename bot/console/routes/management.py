"""What admins run: the groups the assistant serves, the console's accounts, and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, SecretStr

from bot.console.web import Services, StaffSession, acting, allowed, page, redirect
from bot.domain.groups import WELCOME_MAX_CHARS, WelcomeTextError, checked_welcome_text
from bot.domain.messages import TriggerMode
from bot.domain.notices import group_tags
from bot.domain.staff import AUDIT_ACTIONS, Permission, Role, StaffProfile
from bot.services.accounts import AccountError

router = APIRouter()
Admin = Annotated[StaffSession, allowed(Permission.MANAGE_USERS)]
GroupAdmin = Annotated[StaffSession, allowed(Permission.MANAGE_GROUPS)]
Auditor = Annotated[StaffSession, allowed(Permission.VIEW_AUDIT)]
SettingsViewer = Annotated[StaffSession, allowed(Permission.VIEW_SETTINGS)]
ManagingUsers = Annotated[StaffSession, acting(Permission.MANAGE_USERS)]
ManagingGroups = Annotated[StaffSession, acting(Permission.MANAGE_GROUPS)]
AUDIT_PAGE = 100


@router.get("/groups", response_class=HTMLResponse)
def groups(request: Request, console: Services, session: GroupAdmin) -> Response:
    """Every group the assistant has seen, with its switch, trigger mode, keywords, community and welcome."""
    return _groups_page(request, console, session, error="")


def _groups_page(
    request: Request, console: Services, session: StaffSession, *, error: str, status: int = 200
) -> Response:
    """The groups page, with an error above the list when a change was refused."""
    return page(
        request,
        "groups.html",
        session,
        status_code=status,
        groups=console.groups.all(),
        modes=list(TriggerMode),
        default_welcome=console.settings.welcome_text,
        welcome_max=WELCOME_MAX_CHARS,
        error=error,
    )


@router.post("/groups/update", response_class=HTMLResponse)
def update_group(
    request: Request,
    console: Services,
    session: ManagingGroups,
    group_id: Annotated[str, Form(max_length=128)],
    trigger: Annotated[str, Form(max_length=16)] = TriggerMode.KEYWORD.value,
    keywords: Annotated[str, Form(max_length=500)] = "",
    community: Annotated[str, Form(max_length=128)] = "",
    enabled: Annotated[str, Form(max_length=10)] = "",
    welcome: Annotated[str, Form(max_length=10)] = "",
    welcome_text: Annotated[str, Form(max_length=4000)] = "",
    tags: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Change one group's settings."""
    try:
        mode = TriggerMode(trigger)
    except ValueError:
        mode = TriggerMode.KEYWORD
    words = tuple(dict.fromkeys(w.strip() for w in keywords.replace("，", ",").split(",") if w.strip()))
    try:
        text = checked_welcome_text(welcome_text)
    except WelcomeTextError as exc:
        return _groups_page(request, console, session, error=str(exc), status=400)
    try:
        updated = console.groups.update(
            group_id,
            now=console.clock.now(),
            enabled=bool(enabled),
            trigger=mode,
            keywords=words,
            community=community.strip(),
            welcome_enabled=bool(welcome),
            welcome_text=text,
            tags=group_tags(tags),
        )
    except KeyError:
        return _groups_page(request, console, session, error="没有这个群（可能已被删除）。", status=404)
    state = "开启" if updated.enabled else "关闭"
    greeting = ("自定义欢迎语" if updated.welcome_text else "默认欢迎语") if updated.welcome_enabled else "不发欢迎语"
    detail = (
        f"{state}，{mode.label}，关键词 {'、'.join(words) or '无'}，社区 {updated.community or '未分配'}，{greeting}"
    )
    detail += f"，标签 {'、'.join(updated.tags) or '无'}"
    console.audit.record(session.user, "group_updated", target=updated.name or group_id, detail=detail, ip=session.ip)
    return redirect("/groups", notice="group_saved")


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, console: Services, session: Admin) -> Response:
    """Every account, and the form for a new one."""
    return _users_page(request, console, session)


class AccountForm(BaseModel):
    """The fields of an account an admin edits."""

    display_name: str = Field(default="", max_length=64)
    role: str = Field(default=Role.CADRE.value, max_length=16)
    community: str = Field(default="", max_length=128)
    department: str = Field(default="", max_length=128)

    def profile(self) -> StaffProfile:
        """The account's profile as entered; AccountError for a role that does not exist."""
        try:
            role = Role(self.role)
        except ValueError:
            raise AccountError("没有这个角色。") from None
        return StaffProfile(self.display_name, role, self.community, self.department)


class NewAccountForm(AccountForm):
    """A new account's fields: the editable ones, its username and a temporary password."""

    username: str = Field(default="", max_length=64)
    password: str = Field(default="", max_length=200)


class AccountUpdateForm(AccountForm):
    """An existing account's fields: the editable ones and whether it may sign in."""

    active: str = Field(default="", max_length=10)


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request, console: Services, session: ManagingUsers, form: Annotated[NewAccountForm, Form()]
) -> Response:
    """A new account with a temporary password (changed at its first sign-in)."""
    try:
        console.accounts.create_user(
            session.user,
            username=form.username,
            password=form.password,
            profile=form.profile(),
            ip=session.ip,
        )
    except AccountError as exc:
        return _users_page(request, console, session, error=str(exc), status_code=400)
    return redirect("/users", notice="user_created")


@router.post("/users/{user_id}", response_class=HTMLResponse)
def update_user(
    request: Request,
    console: Services,
    session: ManagingUsers,
    user_id: int,
    form: Annotated[AccountUpdateForm, Form()],
) -> Response:
    """Change an account's name, role, community or department; switch it on or off."""
    try:
        console.accounts.update_user(
            session.user,
            user_id,
            profile=form.profile(),
            active=bool(form.active),
            ip=session.ip,
        )
    except AccountError as exc:
        return _users_page(request, console, session, error=str(exc), status_code=400)
    return redirect("/users", notice="user_saved")


@router.post("/users/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    console: Services,
    session: ManagingUsers,
    user_id: int,
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Set a temporary password; the account must change it at its next sign-in."""
    try:
        console.accounts.reset_password(session.user, user_id, password, ip=session.ip)
    except AccountError as exc:
        return _users_page(request, console, session, error=str(exc), status_code=400)
    return redirect("/users", notice="password_reset")


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request, console: Services, session: Auditor, actor: str = "", action: str = "", page_number: int = 1
) -> Response:
    """Every staff action, newest first, filtered by account or action."""
    page_number = max(1, page_number)
    entries = console.audit.entries(
        limit=AUDIT_PAGE + 1, offset=(page_number - 1) * AUDIT_PAGE, actor=actor.strip(), action=action
    )
    return page(
        request,
        "audit.html",
        session,
        entries=entries[:AUDIT_PAGE],
        more=len(entries) > AUDIT_PAGE,
        page_number=page_number,
        actor=actor,
        action=action,
        actions=AUDIT_ACTIONS,
    )


@router.get("/settings", response_class=HTMLResponse)
def settings(request: Request, console: Services, session: SettingsViewer) -> Response:
    """The settings in force (secrets only as set or not); they are changed in the environment or .env file."""
    rows = []
    for name, field in type(console.settings).model_fields.items():
        value = getattr(console.settings, name)
        shown = ("已设置" if value.get_secret_value() else "未设置") if isinstance(value, SecretStr) else str(value)
        rows.append((f"BOT_{name.upper()}", shown, field.description or ""))
    return page(request, "settings.html", session, rows=rows)


def _users_page(
    request: Request, console: Services, session: StaffSession, *, error: str = "", status_code: int = 200
) -> Response:
    return page(
        request,
        "users.html",
        session,
        status_code=status_code,
        users=console.accounts.users(),
        roles=list(Role),
        error=error,
    )
