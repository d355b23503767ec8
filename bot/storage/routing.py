"""Repository of petition routing: the routes staff set per category (over the category file's defaults) and the
departments directory."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.routing import Department, Route
from bot.storage.models import DepartmentRow, PetitionRouteRow


def route_in_force(session: Session, default: Route) -> Route:
    """The route staff set for default's category, read in session's transaction, else default."""
    row = session.get(PetitionRouteRow, default.category)
    return _route(row) if row is not None else default


class SqlRoutes:
    """Routes staff edited and the departments cases go to."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def edited_routes(self) -> dict[str, Route]:
        """Every route staff set, by category."""
        with self._sessions() as session:
            return {row.category: _route(row) for row in session.scalars(select(PetitionRouteRow))}

    def route(self, default: Route) -> Route:
        """The route in force for default's category: the one staff set, else default."""
        with self._sessions() as session:
            return route_in_force(session, default)

    def save_route(self, route: Route, *, by: str, now: datetime) -> None:
        """Keep route for its category (replacing one set before), with who set it and when."""
        with self._sessions.begin() as session:
            row = session.get(PetitionRouteRow, route.category, with_for_update=True)
            if row is None:
                row = PetitionRouteRow(category=route.category[:32])
                session.add(row)
            row.department = route.department[:128]
            row.deadline_hours = route.deadline_hours
            row.urgent_deadline_hours = route.urgent_deadline_hours
            row.edited_by = by[:128]
            row.edited_at = now

    def reset_route(self, category: str) -> bool:
        """Forget what staff set for category (the category file's default applies again); False if nothing was."""
        with self._sessions.begin() as session:
            result = session.execute(delete(PetitionRouteRow).where(PetitionRouteRow.category == category))
            return bool(getattr(result, "rowcount", 0))

    def departments(self) -> list[Department]:
        """Every department, by name."""
        with self._sessions() as session:
            return [_department(row) for row in session.scalars(select(DepartmentRow).order_by(DepartmentRow.name))]

    def department(self, name: str) -> Department | None:
        """One department by name."""
        with self._sessions() as session:
            row = session.scalars(select(DepartmentRow).where(DepartmentRow.name == name)).one_or_none()
            return _department(row) if row is not None else None

    def save_department(self, department: Department, *, now: datetime) -> None:
        """Add department, or change the one of that name."""
        with self._sessions.begin() as session:
            row = session.scalars(
                select(DepartmentRow).where(DepartmentRow.name == department.name).with_for_update()
            ).one_or_none()
            if row is None:
                row = DepartmentRow(name=department.name[:128])
                session.add(row)
            row.wechat_group_id = department.wechat_group_id[:128]
            row.wecom_key = department.wecom_key[:128]
            row.street_office = department.street_office
            row.updated_at = now

    def remove_department(self, name: str) -> bool:
        """Remove a department from the directory (cases keep its name); False if there was none."""
        with self._sessions.begin() as session:
            result = session.execute(delete(DepartmentRow).where(DepartmentRow.name == name))
            return bool(getattr(result, "rowcount", 0))


def _route(row: PetitionRouteRow) -> Route:
    return Route(
        row.category, row.department, row.deadline_hours, row.urgent_deadline_hours, row.edited_by, row.edited_at
    )


def _department(row: DepartmentRow) -> Department:
    return Department(row.name, row.wechat_group_id, row.wecom_key, row.street_office)
