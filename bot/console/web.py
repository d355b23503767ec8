"""What every console route shares: the services, templates, the signed-in staff member, CSRF and permission checks."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from bot.app import Application
from bot.domain.conversation import reason_label
from bot.domain.errors import AssistantError
from bot.domain.staff import AUDIT_ACTIONS, Permission, Role, StaffUser

SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True, slots=True)
class StaffSession:
    """The signed-in staff member of one request, with the session's CSRF token and cookie token."""

    user: StaffUser
    csrf_token: str
    token: str
    ip: str


class ConsoleRefusal(AssistantError):
    """A request the console turns away (to the sign-in page, a password change, a 403 page); each kind carries the
    Chinese sentence staff see."""

    text = "无法完成这个操作。"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.text)


class SignInRequiredError(ConsoleRefusal):
    """No valid session: the browser is sent to the sign-in page."""

    text = "请先登录。"


class PasswordChangeRequiredError(ConsoleRefusal):
    """The account must change its temporary password before anything else."""

    text = "请先修改临时密码。"


class ForbiddenError(ConsoleRefusal):
    """The signed-in role may not do this (or the data belongs to another community)."""

    text = "没有权限查看或修改这项内容。"


class CsrfError(ConsoleRefusal):
    """A form without the session's CSRF token."""

    text = "页面已过期，请刷新后重试。"


def make_templates(zone: tzinfo) -> Jinja2Templates:
    """Jinja2 with autoescaping on for every template (residents' text is shown on many pages)."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=jinja2.StrictUndefined
    )

    def when(moment: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
        return moment.astimezone(zone).strftime(pattern) if moment is not None else ""

    environment.filters["when"] = when
    environment.globals["action_label"] = lambda action: AUDIT_ACTIONS.get(action, action)
    environment.globals["notice"] = _notice
    environment.globals["reason_label"] = reason_label
    environment.globals["Permission"] = Permission
    environment.globals["Role"] = Role
    return Jinja2Templates(env=environment)


def services(request: Request) -> Application:
    """The console's services, stored on the app."""
    found: Application = request.app.state.services
    return found


Services = Annotated[Application, Depends(services)]


def known_communities(console: Application) -> list[str]:
    """The communities an admin may choose from: those of the groups, and the default one."""
    default = console.settings.default_community
    return sorted({g.community for g in console.groups.all() if g.community} | ({default} if default else set()))


def client_ip(request: Request) -> str:
    """The caller's address (uvicorn applies X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else ""


def signed_in_any(request: Request, console: Services) -> StaffSession:
    """The session of this request, even one that still has to change its password."""
    token = request.cookies.get(SESSION_COOKIE, "")
    stored = console.accounts.session(token)
    if stored is None:
        raise SignInRequiredError
    return StaffSession(stored.user, stored.csrf_token, token, client_ip(request))


def signed_in(session: Annotated[StaffSession, Depends(signed_in_any)]) -> StaffSession:
    """The session of this request; a temporary password must be changed first."""
    if session.user.must_change_password:
        raise PasswordChangeRequiredError
    return session


AnyStaff = Annotated[StaffSession, Depends(signed_in_any)]
SignedInStaff = Annotated[StaffSession, Depends(signed_in)]


def allowed(permission: Permission) -> Any:
    """A dependency: the signed-in staff member, who must hold permission."""

    def check(session: SignedInStaff) -> StaffSession:
        if not session.user.may(permission):
            raise ForbiddenError
        return session

    return Depends(check)


async def _verify_csrf(request: Request, session: StaffSession) -> None:
    """Every state-changing request carries the session's CSRF token (form field or X-CSRF-Token header)."""
    form = await request.form()
    sent = str(form.get("csrf_token") or request.headers.get("x-csrf-token") or "")
    if not sent or not hmac.compare_digest(sent, session.csrf_token):
        raise CsrfError


async def check_csrf(request: Request, session: AnyStaff) -> StaffSession:
    """A form any signed-in account may send, even one that must still change its temporary password."""
    await _verify_csrf(request, session)
    return session


CsrfChecked = Annotated[StaffSession, Depends(check_csrf)]


def acting(permission: Permission) -> Any:
    """A dependency for a state-changing request: CSRF token checked, password no longer temporary, permission held."""

    async def check(request: Request, session: SignedInStaff) -> StaffSession:
        await _verify_csrf(request, session)
        if not session.user.may(permission):
            raise ForbiddenError
        return session

    return Depends(check)


def page(
    request: Request, template: str, session: StaffSession | None, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page with the shared context (the user, their CSRF token, the notice of the redirect)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        template,
        {
            "user": session.user if session else None,
            "csrf_token": session.csrf_token if session else "",
            # the notice code of the redirect that led here ("saved", "answered:3"), turned into a message by base.html
            "ok": request.query_params.get("ok", ""),
            **context,
        },
        status_code=status_code,
    )


def redirect(path: str, *, notice: str = "") -> Response:
    """303 to a page of the console, with a notice code the page turns into a message."""
    target = f"{path}{'&' if '?' in path else '?'}ok={quote(notice)}" if notice else path
    return Response(status_code=303, headers={"Location": target})


_NOTICES = {
    "password_changed": "密码已修改，其他设备上的登录已退出。",
    "closed": "问题已关闭，不会发消息给居民。",
    "faq_added": "已加入知识库并重新索引，下次有人这样问会自动回答。",
    "faq_saved": "问答已保存并重新索引。",
    "uploaded": "文件已上传，正在重新导入知识库。",
    "reindex_started": "已开始重新导入知识库。",
    "reindex_running": "知识库正在导入中，请稍候。",
    "reindex_cancelling": "已请求停止导入，知识库仍使用上一次导入的内容。",
    "reindex_idle": "现在没有正在进行的导入。",
    "group_saved": "群设置已保存。",
    "user_created": "账号已创建。请把临时密码告诉本人，首次登录时需要修改。",
    "user_saved": "账号已保存。",
    "password_reset": "临时密码已设置，对方下次登录时需要修改。",
    "petition_moved": "已办理，居民会收到进展通知。",
    "api_key_revoked": "密钥已停用，用它提交的请求会被拒绝。",
    "petition_escalated": "已吹哨，街道已收到通知；居民不会收到这条消息。",
    "route_saved": "派单规则已保存，新登记的诉求按新期限计算。",
    "department_saved": "部门已保存。",
    "department_removed": "部门已删除，已派给它的诉求不受影响。",
    "door_code_deactivated": "门牌码已停用，扫码后会提示已停用。",
    "expiry_added": "已登记，到期前会按时提醒。",
    "expiry_saved": "已保存。",
    "expiry_renewed": "已登记续期，提醒按新的到期日期重新计算。",
    "expiry_retired": "已停用，不会再提醒。",
    "elderly_added": "已加入高龄提醒名单。",
    "elderly_saved": "已保存。",
    "elderly_deleted": "已从名单中删除，这位居民的信息不再保留。",
    "notice_sent": "通知已排入发送队列，正在逐个群发送。",
    "notice_scheduled": "通知已定时，到时会自动发送；发出前可以修改或撤回。",
    "notice_edited": "修改已保存，按新的时间发送。",
    "notice_withdrawn": "通知已撤回，不会再发送；记录仍保留。",
}


def _notice(code: str) -> str:
    """The message for a notice code of a redirect ("answered:3" carries a count)."""
    name, _, count = code.partition(":")
    if name == "answered" and count.isdigit():
        return f"答复已排入发送队列，会发给 {count} 位提问的居民（在群里会@他们）。"
    if name == "notice_retried" and count.isdigit():
        return f"已重新排入发送队列：{count} 个群。" if count != "0" else "这次发送没有失败的群。"
    if name == "door_codes_created" and count.isdigit():
        return f"已生成 {count} 个门牌码，可以打印张贴了。"
    return _NOTICES.get(code, "")
