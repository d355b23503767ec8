"""Console accounts, sessions and the audit log on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.staff import Role, StaffProfile, UsernameTakenError
from bot.storage.staff import SqlAuditLog, SqlStaffAccounts

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _account(accounts: SqlStaffAccounts, username: str = "li", role: Role = Role.CADRE) -> int:
    return accounts.create(
        username=username,
        profile=StaffProfile("李干部", role, community="幸福里"),
        password_hash="scrypt$x",
        must_change_password=True,
        now=NOW,
    ).id


def test_accounts_are_unique_by_username_and_read_back_whole(sessions: sessionmaker[Session]) -> None:
    accounts = SqlStaffAccounts(sessions)
    user_id = _account(accounts)
    with pytest.raises(UsernameTakenError):
        _account(accounts)
    found = accounts.credentials("li")
    assert found is not None
    user, stored_hash = found
    assert (user.id, user.role, user.community, user.must_change_password, stored_hash) == (
        user_id,
        Role.CADRE,
        "幸福里",
        True,
        "scrypt$x",
    )
    assert user.created_at == NOW and accounts.credentials("nobody") is None


def test_sessions_expire_end_on_deactivation_and_on_password_change_except_the_current(
    sessions: sessionmaker[Session],
) -> None:
    accounts = SqlStaffAccounts(sessions)
    user_id = _account(accounts)
    for token in ("a", "b", "c"):
        accounts.open_session(
            token_hash=token,
            user_id=user_id,
            csrf_token=f"csrf-{token}",
            now=NOW,
            expires_at=NOW + timedelta(hours=1),
            ip="10.0.0.1",
        )
    found = accounts.find_session("a", now=NOW)
    assert found is not None and found.csrf_token == "csrf-a" and found.user.username == "li"
    assert accounts.find_session("a", now=NOW + timedelta(hours=2)) is None  # expired

    accounts.set_password(user_id, "scrypt$y", must_change=False, now=NOW, keep_session="b")
    assert accounts.find_session("a", now=NOW) is None and accounts.find_session("b", now=NOW) is not None

    accounts.update(user_id, profile=StaffProfile("李", Role.CADRE, community="幸福里"), active=False)
    assert accounts.find_session("b", now=NOW) is None


def test_the_audit_log_filters_and_counts(sessions: sessionmaker[Session]) -> None:
    log = SqlAuditLog(sessions)
    for minute, (actor, action, ip) in enumerate(
        [("li", "login_failed", "1.1.1.1"), ("li", "login_failed", "2.2.2.2"), ("wang", "login", "1.1.1.1")]
    ):
        log.record(at=NOW + timedelta(minutes=minute), actor=actor, role="cadre", action=action, ip=ip)
    assert [e.actor for e in log.entries(limit=10)] == ["wang", "li", "li"]  # newest first
    assert len(log.entries(limit=10, action="login_failed")) == 2
    assert log.count_since(action="login_failed", since=NOW - timedelta(minutes=1), actor="li") == 2
    assert log.count_since(action="login_failed", since=NOW, actor="li") == 1  # strictly after
    assert log.count_since(action="login_failed", since=NOW - timedelta(minutes=1), ip="1.1.1.1") == 1


def test_the_console_migration_adds_its_tables_and_columns(sessions: sessionmaker[Session]) -> None:
    inspector = inspect(sessions.kw["bind"])
    tables = set(inspector.get_table_names())
    assert {"staff_users", "console_sessions", "audit_log"} <= tables
    assert "trigger" in {c["name"] for c in inspector.get_columns("group_configs")}
    assert "community" in {c["name"] for c in inspector.get_columns("unanswered_questions")}
