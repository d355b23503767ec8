"""Repository of the API keys outside systems post Open311 requests with (only each key's SHA-256 is stored)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.open311 import ApiKey
from bot.storage.models import ApiKeyRow


class SqlApiKeys:
    """Issued keys: who issued them, when, their scope, when they were last used and whether they are revoked."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(self, *, name: str, key_hash: str, community: str, created_by: str, now: datetime) -> ApiKey:
        """Store a new key by its hash."""
        row = ApiKeyRow(
            name=name[:64],
            key_hash=key_hash,
            community=community[:128],
            created_by=created_by[:64],
            created_at=now,
            revoked_at=None,
            last_used_at=None,
        )
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return _key(row)

    def all(self) -> list[ApiKey]:
        """Every key ever issued, newest first."""
        with self._sessions() as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at.desc(), ApiKeyRow.id.desc()))
            return [_key(row) for row in rows]

    def find(self, key_hash: str) -> ApiKey | None:
        """The unrevoked key with that hash."""
        query = select(ApiKeyRow).where(ApiKeyRow.key_hash == key_hash, ApiKeyRow.revoked_at.is_(None))
        with self._sessions() as session:
            row = session.scalars(query).one_or_none()
            return _key(row) if row is not None else None

    def revoke(self, key_id: int, *, now: datetime) -> ApiKey | None:
        """Revoke a key (once: a revoked key keeps its first revocation time); None for an unknown key."""
        with self._sessions.begin() as session:
            session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            )
            row = session.get(ApiKeyRow, key_id, populate_existing=True)
            return _key(row) if row is not None else None

    def used(self, key_id: int, *, now: datetime) -> None:
        """Note that a key was just used."""
        with self._sessions.begin() as session:
            session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id == key_id)
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        community=row.community,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )
