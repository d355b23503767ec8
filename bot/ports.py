"""Protocols the core depends on; concrete classes are chosen in the composition root (bot/app.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from bot.domain.conversation import ActivityScope, ConversationTurn
from bot.domain.groups import GroupConfig
from bot.domain.messages import OutboundMessage, TriggerMode
from bot.domain.staff import StaffProfile, StaffUser, StoredSession


class Clock(Protocol):
    """The current time (a fake in tests)."""

    def now(self) -> datetime:
        """Timezone-aware now."""


class TurnLog(Protocol):
    """Where every handled message is recorded."""

    def record(self, turn: ConversationTurn) -> None:
        """Store one turn."""

    def recent(self, limit: int) -> Sequence[ConversationTurn]:
        """The newest turns, newest first."""

    def last_question(self, *, group_id: str, user_id: str, since: datetime) -> str | None:
        """The newest question one resident asked in one group (or privately) since a time, small talk aside."""


class ActivityLog(Protocol):
    """What the dashboard counts over the recorded turns."""

    def count_answered(self, start: datetime, end: datetime, scope: ActivityScope) -> tuple[int, int]:
        """(answered, all) turns between two times."""

    def busiest_groups(self, since: datetime, scope: ActivityScope, *, limit: int) -> list[tuple[str, int]]:
        """(group id, turns) of the groups with the most turns since a time."""

    def most_answered_entries(self, since: datetime, scope: ActivityScope, *, limit: int) -> list[tuple[str, int]]:
        """(entry id, answers) of the knowledge entries answered most since a time."""


class GroupDirectory(Protocol):
    """The chat groups the assistant has seen and how it answers in each."""

    def get_or_register(self, *, group_id: str, channel: str, name: str, now: datetime) -> GroupConfig:
        """The group's configuration, registering it (and keeping its name current) on first sight."""

    def get(self, group_id: str) -> GroupConfig | None:
        """One group's configuration, if it was ever seen."""

    def all(self, *, community: str | None = None) -> list[GroupConfig]:
        """Every known group (only one community's if given)."""

    def update(
        self,
        group_id: str,
        *,
        now: datetime,
        enabled: bool | None = None,
        trigger: TriggerMode | None = None,
        keywords: tuple[str, ...] | None = None,
        community: str | None = None,
    ) -> GroupConfig:
        """Staff change a group's settings (only the ones given); KeyError for an unknown group."""

    def name_of(self, group_id: str) -> str:
        """A group's name as WeChat shows it (its id if it has none or is unknown)."""

    def community_of(self, group_id: str) -> str:
        """The community a group belongs to (private chats: the default community)."""


class StaffAccountStore(Protocol):
    """Console accounts and their signed-in sessions."""

    def create(
        self, *, username: str, profile: StaffProfile, password_hash: str, must_change_password: bool, now: datetime
    ) -> StaffUser:
        """A new active account; UsernameTakenError if the name is in use."""

    def credentials(self, username: str) -> tuple[StaffUser, str] | None:
        """An account and its password hash, by username."""

    def password_hash(self, user_id: int) -> str:
        """An account's password hash."""

    def get(self, user_id: int) -> StaffUser | None:
        """One account."""

    def all(self) -> list[StaffUser]:
        """Every account."""

    def count_active_admins(self) -> int:
        """How many active admins there are."""

    def update(self, user_id: int, *, profile: StaffProfile, active: bool) -> StaffUser:
        """Change an account's profile (a deactivated account loses its sessions)."""

    def set_password(
        self, user_id: int, password_hash: str, *, must_change: bool, now: datetime, keep_session: str = ""
    ) -> None:
        """Store a new hash and end every other session of the account."""

    def open_session(
        self, *, token_hash: str, user_id: int, csrf_token: str, now: datetime, expires_at: datetime, ip: str
    ) -> None:
        """Record a new signed-in browser."""

    def find_session(self, token_hash: str, *, now: datetime) -> StoredSession | None:
        """The unexpired session with that token hash, if its account is active."""

    def close_session(self, token_hash: str) -> None:
        """Sign a browser out."""


class ChatGateway(Protocol):
    """Sends messages on one platform account (WeChat through wechaty, the terminal …)."""

    async def send(self, message: OutboundMessage) -> None:
        """Deliver one message. On failure raise bot.domain.outbox.PermanentSendError when it can never succeed (the
        group or person is gone, the bot was removed, the platform refused it: never retried) or TransientSendError
        when it may succeed later (a timeout, a lost connection: retried with backoff). Any other exception counts as
        transient."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        return datetime.now(UTC)
