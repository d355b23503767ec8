"""The audit trail of staff actions, written by every service a staff member acts through."""

from __future__ import annotations

from datetime import datetime

from bot.domain.staff import Actor, AuditEntry, StaffUser, Venue
from bot.ports import AuditLog, Clock


class StaffAudit:
    """Records who did what, when and from where; reads it back for admins."""

    def __init__(self, log: AuditLog, clock: Clock) -> None:
        self._log = log
        self._clock = clock

    def record_as(self, actor: Actor, action: str, *, target: str = "", detail: str = "") -> None:
        """Append one action by actor; every entry is written through here."""
        self._log.record(
            at=self._clock.now(),
            actor=actor.audit_name,
            role=actor.role.value if actor.role else "",
            action=action,
            target=target,
            detail=actor.audit_detail(detail),
            community=actor.community,
            ip=actor.ip,
        )

    def record(self, user: StaffUser | None, action: str, *, target: str = "", detail: str = "", ip: str = "") -> None:
        """Append one console action (user None: the command line)."""
        actor = Actor.console(user, ip=ip) if user else Actor.command_line()
        self.record_as(actor, action, target=target, detail=detail)

    def failed_sign_in(self, username: str, *, ip: str) -> None:
        """Record a failed sign-in under the name that was typed."""
        self.record_as(Actor(username[:64], Venue.CONSOLE, username=username[:64], ip=ip), "login_failed")

    def failures_since(self, since: datetime, *, username: str = "", ip: str = "") -> int:
        """Failed sign-ins since a time, for one typed username or one address."""
        return self._log.count_since(action="login_failed", since=since, actor=username[:64], ip=ip)

    def entries(self, *, limit: int, offset: int = 0, actor: str = "", action: str = "") -> list[AuditEntry]:
        """Newest first."""
        return self._log.entries(limit=limit, offset=offset, actor=actor, action=action)
