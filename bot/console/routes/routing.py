"""Petition routing in the console (派单设置): each category's default department and deadlines, and the departments
directory (staff WeChat group, WeCom robot, street office). Cadres and admins only; handlers cannot."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bot.console.web import Services, StaffSession, acting, allowed, page, redirect
from bot.domain.routing import RoutingError
from bot.domain.staff import Actor, Permission

router = APIRouter()
Router = Annotated[StaffSession, allowed(Permission.MANAGE_ROUTING)]
Routing = Annotated[StaffSession, acting(Permission.MANAGE_ROUTING)]


@router.get("/petitions/routing", response_class=HTMLResponse)
def routing_page(request: Request, console: Services, session: Router) -> Response:
    """Every category's route in force and the departments directory."""
    return _page(request, console, session)


@router.post("/petitions/routing/route", response_class=HTMLResponse)
def edit_route(
    request: Request,
    console: Services,
    session: Routing,
    category: Annotated[str, Form(max_length=64)],
    department: Annotated[str, Form(max_length=200)] = "",
    deadline_hours: Annotated[int, Form()] = 0,
    urgent_deadline_hours: Annotated[int, Form()] = 0,
    reset: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Set one category's department and deadlines (or go back to the category file's)."""
    actor = Actor.console(session.user, ip=session.ip)
    try:
        if reset:
            console.routing.reset_route(category, actor=actor)
        else:
            console.routing.edit_route(category, department, deadline_hours, urgent_deadline_hours, actor=actor)
    except RoutingError as refused:
        return _page(request, console, session, error=str(refused), status_code=400)
    return redirect("/petitions/routing", notice="route_saved")


@router.post("/petitions/routing/department", response_class=HTMLResponse)
def save_department(
    request: Request,
    console: Services,
    session: Routing,
    name: Annotated[str, Form(max_length=200)],
    wechat_group_id: Annotated[str, Form(max_length=200)] = "",
    wecom_key: Annotated[str, Form(max_length=200)] = "",
    keep_key: Annotated[str, Form(max_length=8)] = "",
    drop_key: Annotated[str, Form(max_length=8)] = "",
    street_office: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Add or change a department; with keep_key an empty robot key keeps the one set (never shown on the page),
    drop_key removes it."""
    key = "" if drop_key else wecom_key.strip()
    if keep_key and not key and not drop_key:
        found = next((d for d in console.routing.departments() if d.name == " ".join(name.split())), None)
        key = found.wecom_key if found is not None else ""
    try:
        console.routing.save_department(
            name,
            wechat_group_id,
            key,
            street_office=bool(street_office),
            actor=Actor.console(session.user, ip=session.ip),
        )
    except RoutingError as refused:
        return _page(request, console, session, error=str(refused), status_code=400)
    return redirect("/petitions/routing", notice="department_saved")


@router.post("/petitions/routing/department/remove", response_class=HTMLResponse)
def remove_department(console: Services, session: Routing, name: Annotated[str, Form(max_length=200)]) -> Response:
    """Take a department out of the directory (its cases keep its name)."""
    console.routing.remove_department(name, actor=Actor.console(session.user, ip=session.ip))
    return redirect("/petitions/routing", notice="department_removed")


def _page(
    request: Request, console: Services, session: StaffSession, *, error: str = "", status_code: int = 200
) -> Response:
    groups = {g.group_id: g.name or g.group_id for g in console.groups.all()}
    return page(
        request,
        "routing.html",
        session,
        status_code=status_code,
        routes=console.routing.routes(),
        departments=console.routing.departments(),
        department_names=console.routing.department_names(),
        groups=groups,
        error=error,
    )
