"""The staff console: a FastAPI app of server-rendered pages over the assistant's own services."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta, timezone
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.app import Application
from bot.console.routes import (
    auth,
    dashboard,
    door_codes,
    elderly,
    expiry,
    knowledge,
    management,
    notices,
    open311,
    petition_reports,
    petitions,
    phone,
    questions,
    routing,
)
from bot.console.web import (
    STATIC_DIR,
    CsrfError,
    ForbiddenError,
    PasswordChangeRequiredError,
    SignInRequiredError,
    make_templates,
    page,
)
from bot.domain.privacy import masked_traceback

log = logging.getLogger(__name__)
# The console's areas, one router each (fixed paths before the ones they would match: /petitions/routing and
# /petitions/export.xlsx are no case numbers).
AREAS = (
    auth,
    dashboard,
    questions,
    routing,
    petition_reports,
    petitions,
    door_codes,
    expiry,
    elderly,
    notices,
    phone,
    knowledge,
    management,
    open311,
)

# Pages load only their own scripts and styles; nothing may frame them (clickjacking) or post them elsewhere.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_console(services: Application) -> FastAPI:
    """The console app; every route but sign-in requires a session, every action a role."""
    app = FastAPI(title="社区助手控制台", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.services = services
    app.state.templates = make_templates(timezone(timedelta(hours=services.settings.utc_offset_hours)))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in AREAS:
        app.include_router(module.router)
    # Open311 GeoReport v2 for outside systems: no staff session (reads are public, posts carry an API key)
    app.include_router(open311.api)

    # Larger bodies are refused before they are read (an upload is checked again by its own limit).
    body_limit = services.knowledge.upload_limit + 1024 * 1024

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # Browsers always declare a form's length; a body without one (chunked) could not be bounded before parsing.
        declared = request.headers.get("content-length", "0" if request.method in {"GET", "HEAD"} else "")
        if not declared.isdigit() or int(declared) > body_limit:
            limit_mb = services.knowledge.upload_limit // (1024 * 1024)
            response: Response = (
                open311.api_error(request, 413, "提交的内容太大，或没有声明长度")
                if open311.is_open311(request)
                else _problem(request, 413, f"提交的内容太大（文件最大 {limit_mb} MB）。")
            )
        else:
            response = await call_next(request)
        response.headers.update(_SECURITY_HEADERS)
        if services.settings.secure_cookies:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(SignInRequiredError)
    async def sign_in_required(request: Request, exc: SignInRequiredError) -> Response:
        if request.method != "GET":
            return _problem(request, 401, "登录已过期，请重新登录后再操作。")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Response(status_code=303, headers={"Location": f"/login?next={quote(target)}"})

    @app.exception_handler(PasswordChangeRequiredError)
    async def password_change_required(request: Request, exc: PasswordChangeRequiredError) -> Response:
        return Response(status_code=303, headers={"Location": "/account/password"})

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> Response:
        return _problem(request, 403, "您的账号没有权限做这件事，或这些内容属于其他社区。")

    @app.exception_handler(CsrfError)
    async def csrf_failed(request: Request, exc: CsrfError) -> Response:
        return _problem(request, 403, "表单已过期或来源不明，请刷新页面后重试。")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return _problem(request, 400, "提交的内容不完整或格式不对，请检查后重试。")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if open311.is_open311(request):
            described = {404: "没有这个接口", 405: "这个接口不支持这种请求方法"}
            return open311.api_error(request, exc.status_code, described.get(exc.status_code, "请求无法处理"))
        messages = {404: "页面不存在。", 405: "不支持这样访问这个页面。"}
        return _problem(request, exc.status_code, messages.get(exc.status_code, "请求无法处理。"))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # masked: a database error quotes its parameters (a register's phones, a resident's message)
        log.error("console request failed: %s %s\n%s", request.method, request.url.path, masked_traceback(exc))
        if open311.is_open311(request):
            return open311.api_error(request, 500, "服务器出错了，请稍后再试")
        return _problem(request, 500, "服务器出错了，错误已记录，请稍后重试或联系管理员。")

    return app


def _problem(request: Request, status: int, message: str) -> HTMLResponse:
    return page(request, "problem.html", None, status_code=status, message=message)
