"""Repository of 门牌码: the codes staff make and switch off, and the petitions filed from their page, counted for the
rate limits in the database so that every process agrees."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.door_codes import DoorCode
from bot.storage.models import DoorCodeRow, DoorCodeSubmissionRow


class SqlDoorCodes:
    """Door codes and the submissions made through them."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(
        self, places: Sequence[tuple[str, str]], *, community: str, created_by: str, now: datetime
    ) -> list[DoorCode]:
        """New active codes, one per (token, place), in one transaction."""
        with self._sessions.begin() as session:
            rows = [
                DoorCodeRow(
                    token=token,
                    community=community[:128],
                    place=place[:100],
                    created_by=created_by[:128],
                    created_at=now,
                    active=True,
                )
                for token, place in places
            ]
            session.add_all(rows)
            session.flush()
            return [_code(row) for row in rows]

    def by_token(self, token: str) -> DoorCode | None:
        """The code with that token, active or not."""
        with self._sessions() as session:
            row = session.scalars(select(DoorCodeRow).where(DoorCodeRow.token == token)).one_or_none()
            return _code(row) if row is not None else None

    def get(self, code_id: int) -> DoorCode | None:
        """One code by its id."""
        with self._sessions() as session:
            row = session.get(DoorCodeRow, code_id)
            return _code(row) if row is not None else None

    def listed(self, *, community: str | None, active_only: bool) -> list[DoorCode]:
        """Codes (one community's if given; only active ones if asked), in the order they were made."""
        query = select(DoorCodeRow).order_by(DoorCodeRow.id)
        if community is not None:
            query = query.where(DoorCodeRow.community == community)
        if active_only:
            query = query.where(DoorCodeRow.active.is_(True))
        with self._sessions() as session:
            return [_code(row) for row in session.scalars(query)]

    def deactivate(self, code_id: int) -> bool:
        """Switch a code off (its page then says it no longer works); False if it was off already or unknown."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(DoorCodeRow)
                .where(DoorCodeRow.id == code_id, DoorCodeRow.active.is_(True))
                .values(active=False)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0))

    def record_submission(self, code_id: int, *, device: str, address: str, at: datetime, number: str) -> None:
        """Count a petition filed from a code's page against the device, the address and the code."""
        with self._sessions.begin() as session:
            session.add(
                DoorCodeSubmissionRow(
                    code_id=code_id, device=device[:64], address=address[:64], at=at, petition_number=number
                )
            )

    def submissions_since(
        self, since: datetime, *, code_id: int | None = None, device: str | None = None, address: str | None = None
    ) -> int:
        """How many petitions were filed since a time from one code, one device or one address."""
        query = select(func.count()).select_from(DoorCodeSubmissionRow).where(DoorCodeSubmissionRow.at >= since)
        if code_id is not None:
            query = query.where(DoorCodeSubmissionRow.code_id == code_id)
        if device is not None:
            query = query.where(DoorCodeSubmissionRow.device == device)
        if address is not None:
            query = query.where(DoorCodeSubmissionRow.address == address)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)


def _code(row: DoorCodeRow) -> DoorCode:
    return DoorCode(row.id, row.token, row.community, row.place, row.created_by, row.created_at, row.active)
