"""Repositories of console accounts, their sessions and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.staff import AuditEntry, Role, StaffProfile, StaffUser, StoredSession, UsernameTakenError
from bot.storage.models import AuditLogRow, ConsoleSessionRow, StaffUserRow


class SqlStaffAccounts:
    """Console accounts and their sessions."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(
        self,
        *,
        username: str,
        profile: StaffProfile,
        password_hash: str,
        must_change_password: bool,
        now: datetime,
    ) -> StaffUser:
        """A new active account; UsernameTakenError if the name is in use."""
        row = StaffUserRow(
            username=username,
            display_name=profile.display_name,
            role=profile.role.value,
            community=profile.community,
            department=profile.department,
            password_hash=password_hash,
            active=True,
            must_change_password=must_change_password,
            created_at=now,
            password_changed_at=now,
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise UsernameTakenError(f"用户名 {username} 已经有人用了") from None
        return _user(row)

    def credentials(self, username: str) -> tuple[StaffUser, str] | None:
        """An account and its password hash, by username."""
        with self._sessions() as session:
            row = session.scalars(select(StaffUserRow).where(StaffUserRow.username == username)).first()
            return (_user(row), row.password_hash) if row is not None else None

    def password_hash(self, user_id: int) -> str:
        """The stored hash of one account."""
        with self._sessions() as session:
            return session.get_one(StaffUserRow, user_id).password_hash

    def get(self, user_id: int) -> StaffUser | None:
        """One account by id."""
        with self._sessions() as session:
            row = session.get(StaffUserRow, user_id)
            return _user(row) if row is not None else None

    def all(self) -> list[StaffUser]:
        """Every account, by username."""
        with self._sessions() as session:
            return [_user(row) for row in session.scalars(select(StaffUserRow).order_by(StaffUserRow.username))]

    def count_active_admins(self) -> int:
        """How many active admin accounts exist."""
        with self._sessions() as session:
            return int(
                session.scalar(
                    select(func.count()).where(StaffUserRow.role == Role.ADMIN.value, StaffUserRow.active.is_(True))
                )
                or 0
            )

    def update(self, user_id: int, *, profile: StaffProfile, active: bool) -> StaffUser:
        """Change an account's profile; a deactivated account loses its sessions at once."""
        with self._sessions.begin() as session:
            row = session.get_one(StaffUserRow, user_id)
            row.display_name, row.role = profile.display_name, profile.role.value
            row.community, row.department, row.active = profile.community, profile.department, active
            if not active:
                session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.user_id == user_id))
            return _user(row)

    def set_password(
        self, user_id: int, password_hash: str, *, must_change: bool, now: datetime, keep_session: str = ""
    ) -> None:
        """Store a new hash and end every other session of the account."""
        with self._sessions.begin() as session:
            row = session.get_one(StaffUserRow, user_id)
            row.password_hash, row.must_change_password, row.password_changed_at = password_hash, must_change, now
            session.execute(
                delete(ConsoleSessionRow).where(
                    ConsoleSessionRow.user_id == user_id, ConsoleSessionRow.token_hash != keep_session
                )
            )

    def open_session(
        self, *, token_hash: str, user_id: int, csrf_token: str, now: datetime, expires_at: datetime, ip: str
    ) -> None:
        """Record a new signed-in browser (expired sessions are cleared on the way)."""
        with self._sessions.begin() as session:
            session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at <= now))
            session.add(
                ConsoleSessionRow(
                    token_hash=token_hash,
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires_at,
                    ip=ip,
                )
            )

    def find_session(self, token_hash: str, *, now: datetime) -> StoredSession | None:
        """The unexpired session with that token hash, if its account is active."""
        with self._sessions() as session:
            found = session.execute(
                select(ConsoleSessionRow, StaffUserRow)
                .join(StaffUserRow, StaffUserRow.id == ConsoleSessionRow.user_id)
                .where(ConsoleSessionRow.token_hash == token_hash, ConsoleSessionRow.expires_at > now)
            ).first()
            if found is None or not found[1].active:
                return None
            return StoredSession(_user(found[1]), found[0].csrf_token, found[0].expires_at)

    def close_session(self, token_hash: str) -> None:
        """Sign a browser out."""
        with self._sessions.begin() as session:
            session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == token_hash))


class SqlAuditLog:
    """The append-only record of staff actions."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(
        self,
        *,
        at: datetime,
        actor: str,
        role: str,
        action: str,
        target: str = "",
        detail: str = "",
        community: str = "",
        ip: str = "",
    ) -> None:
        """Append one entry."""
        with self._sessions.begin() as session:
            session.add(
                AuditLogRow(
                    at=at,
                    actor=actor[:64],
                    role=role,
                    action=action,
                    target=target[:256],
                    detail=detail[:4000],
                    community=community,
                    ip=ip[:64],
                )
            )

    def entries(self, *, limit: int, offset: int = 0, actor: str = "", action: str = "") -> list[AuditEntry]:
        """Newest first, optionally only one actor's or one action's."""
        query = select(AuditLogRow)
        if actor:
            query = query.where(AuditLogRow.actor == actor)
        if action:
            query = query.where(AuditLogRow.action == action)
        with self._sessions() as session:
            rows = session.scalars(
                query.order_by(AuditLogRow.at.desc(), AuditLogRow.id.desc()).offset(offset).limit(limit)
            )
            return [
                AuditEntry(r.id, r.at, r.actor, r.role, r.action, r.target, r.detail, r.community, r.ip) for r in rows
            ]

    def count_since(self, *, action: str, since: datetime, actor: str = "", ip: str = "") -> int:
        """How many entries of action since a time, for one actor and/or one address."""
        query = select(func.count()).where(AuditLogRow.action == action, AuditLogRow.at > since)
        if actor:
            query = query.where(AuditLogRow.actor == actor)
        if ip:
            query = query.where(AuditLogRow.ip == ip)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)


def _user(row: StaffUserRow) -> StaffUser:
    return StaffUser(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        community=row.community,
        department=row.department,
        active=row.active,
        must_change_password=row.must_change_password,
        created_at=row.created_at,
    )
