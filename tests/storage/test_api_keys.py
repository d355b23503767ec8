"""Open311 API keys on SQLite and PostgreSQL: only the key's SHA-256 is stored, a key works until revoked, its use
is noted, its posts are limited per minute, and issuing and revoking are audited."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.open311 import Open311Error
from bot.domain.staff import Actor, Role, Venue
from bot.services.audit import StaffAudit
from bot.services.open311 import ApiKeyNameRequiredError, ApiKeyNotFoundError, Open311Keys
from bot.storage.api_keys import SqlApiKeys
from bot.storage.models import ApiKeyRow
from bot.storage.staff import SqlAuditLog
from tests.support.clock import FakeClock

CHIEF = Actor("陈主任", Venue.CONSOLE, "chief", Role.ADMIN, "", "127.0.0.1")


def keys_over(sessions: sessionmaker[Session], clock: FakeClock, per_minute: int = 2) -> tuple[Open311Keys, StaffAudit]:
    audit = StaffAudit(SqlAuditLog(sessions), clock)
    return Open311Keys(SqlApiKeys(sessions), audit, clock, posts_per_minute=per_minute), audit


def test_a_key_is_stored_as_its_hash_and_works_until_revoked(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock()
    keys, audit = keys_over(sessions, clock)
    key, secret = keys.issue(CHIEF, name="  市12345平台 ", community="幸福里")
    assert key.name == "市12345平台" and key.community == "幸福里" and key.created_by == "chief" and key.active
    with sessions() as session:
        row = session.scalars(select(ApiKeyRow)).one()
        stored = [str(getattr(row, column.name)) for column in ApiKeyRow.__table__.columns]
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest() and not any(secret in v for v in stored)

    clock.advance(minutes=3)
    assert keys.authenticate(secret).id == key.id
    assert keys.keys()[0].last_used_at == clock.now()
    with pytest.raises(Open311Error) as wrong:
        keys.authenticate(secret + "x")
    assert wrong.value.status == 403
    with pytest.raises(Open311Error):
        keys.authenticate("")

    revoked = keys.revoke(CHIEF, key.id)
    assert revoked.revoked_at == clock.now() and not revoked.active
    with pytest.raises(Open311Error) as refused:
        keys.authenticate(secret)
    assert refused.value.status == 403
    with pytest.raises(ApiKeyNotFoundError):
        keys.revoke(CHIEF, key.id + 100)
    with pytest.raises(ApiKeyNameRequiredError):
        keys.issue(CHIEF, name="  ")
    entries = audit.entries(limit=10)
    assert [(e.action, e.actor, e.target) for e in entries] == [
        ("api_key_revoked", "chief", f"密钥 {key.id}"),
        ("api_key_issued", "chief", f"密钥 {key.id}"),
    ]
    assert entries[1].detail == "市12345平台，限幸福里"


def test_posts_are_limited_per_key_per_minute(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock()
    keys, _ = keys_over(sessions, clock, per_minute=2)
    _, first = keys.issue(CHIEF, name="甲平台")
    _, second = keys.issue(CHIEF, name="乙平台")
    keys.authenticate(first)
    keys.authenticate(first)
    with pytest.raises(Open311Error) as limited:
        keys.authenticate(first)
    assert limited.value.status == 429
    keys.authenticate(second)  # another key has its own allowance
    clock.advance(seconds=61)
    keys.authenticate(first)
