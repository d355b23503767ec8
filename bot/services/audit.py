"""The audit trail of staff actions, written by every service a staff member acts through."""

from __future__ import annotations

from datetime import datetime

from bot.domain.staff import AuditEntry, StaffUser
from bot.ports import Clock
from bot.storage.staff import SqlAuditLog


class StaffAudit:
    """Records who did what, when and from where; reads it back for admins."""

    def __init__(self, log: SqlAuditLog, clock: Clock) -> None:
        self._log = log
        self._clock = clock

    def record(self, user: StaffUser | None, action: str, *, target: str = "", detail: str = "", ip: str = "") -> None:
        """Append one console action (user None: the command line)."""
        self._log.record(
            at=self._clock.now(),
            actor=user.username if user else "命令行",
            role=user.role.value if user else "",
            action=action,
            target=target,
            detail=detail,
            community=user.community if user else "",
            ip=ip,
        )

    def record_in_chat(self, sender: str, action: str, *, target: str, detail: str = "") -> None:
        """Append an action a staff member took in the staff WeChat group (actor: their WeChat name or id)."""
        self._log.record(
            at=self._clock.now(), actor=f"微信:{sender}", role="", action=action, target=target, detail=detail
        )

    def failed_sign_in(self, username: str, *, ip: str) -> None:
        """Record a failed sign-in under the name that was typed."""
        self._log.record(at=self._clock.now(), actor=username[:64], role="", action="login_failed", ip=ip)

    def failures_since(self, since: datetime, *, username: str = "", ip: str = "") -> int:
        """Failed sign-ins since a time, for one typed username or one address."""
        return self._log.count_since(action="login_failed", since=since, actor=username[:64], ip=ip)

    def entries(self, *, limit: int, offset: int = 0, actor: str = "", action: str = "") -> list[AuditEntry]:
        """Newest first."""
        return self._log.entries(limit=limit, offset=offset, actor=actor, action=action)
