"""Signing in and out, and changing one's own password."""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bot.console.web import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AnyStaff,
    CsrfChecked,
    Services,
    client_ip,
    page,
    redirect,
)
from bot.services.accounts import AccountError

router = APIRouter()


_CONSOLE_PATH = re.compile(r"^/(?![/\\])[A-Za-z0-9/_.~%?=&-]*$")


def _safe_next(target: str) -> str:
    """Only paths of this console are followed after sign-in: no other host, scheme, backslash or whitespace
    (browsers drop tabs and newlines, turning "/\t/evil" into "//evil")."""
    return target if _CONSOLE_PATH.match(target) else "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, console: Services, next: str = "/") -> Response:
    """The sign-in page (with a pre-session CSRF token in a cookie and the form)."""
    token = secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        None,
        login_csrf=token,
        next=_safe_next(next),
        error="",
        username="",
        no_admin=not console.accounts.has_admin(),
    )
    _set_cookie(response, console.settings.secure_cookies, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    console: Services,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    login_csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the credentials; a session cookie (HttpOnly, SameSite) on success."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    error = ""
    signed = None
    if not expected or not hmac.compare_digest(expected, login_csrf):
        error = "登录页面已过期，请重新输入。"
    else:
        try:
            signed = console.accounts.sign_in(username, password, ip=client_ip(request))
        except AccountError as exc:
            error = str(exc)
    if signed is None:
        token = secrets.token_urlsafe(24)
        status = 429 if error.startswith("登录失败次数过多") else 400
        response = page(
            request,
            "login.html",
            None,
            status_code=status,
            login_csrf=token,
            next=_safe_next(next),
            error=error,
            username=username,
            no_admin=not console.accounts.has_admin(),
        )
        _set_cookie(response, console.settings.secure_cookies, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response
    done = redirect("/account/password" if signed.user.must_change_password else _safe_next(next))
    max_age = int(console.accounts.policy.session_length.total_seconds())
    _set_cookie(done, console.settings.secure_cookies, SESSION_COOKIE, signed.token, max_age=max_age)
    done.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return done


@router.post("/logout")
def logout(console: Services, session: CsrfChecked) -> Response:
    """End this browser's session."""
    console.accounts.sign_out(session.token, session.user, ip=session.ip)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, session: AnyStaff) -> Response:
    """The password change form (forced after an admin set a temporary password)."""
    return page(request, "password.html", session, error="")


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    console: Services,
    session: CsrfChecked,
    current: Annotated[str, Form(max_length=200)] = "",
    new: Annotated[str, Form(max_length=200)] = "",
    repeat: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Change one's own password; other sessions of the account end."""
    try:
        if new != repeat:
            raise AccountError("两次输入的新密码不一致。")
        console.accounts.change_password(session.user, current, new, token=session.token, ip=session.ip)
    except AccountError as exc:
        return page(request, "password.html", session, status_code=400, error=str(exc))
    return redirect("/account/password", notice="password_changed")


def _set_cookie(response: Response, secure: bool, name: str, value: str, *, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure)
