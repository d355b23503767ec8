"""Repository of 门牌码: the codes staff make and switch off, and the petitions filed from their page, counted for the
rate limits in the database so that every process agrees."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.door_codes import Admission, DoorCode, LimitHit, SubmissionLimits
from bot.storage.models import DoorCodeRow, DoorCodeSubmissionRow

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


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

    def admit(self, code_id: int, *, device: str, address: str, at: datetime, limits: SubmissionLimits) -> Admission:
        """Reserve a slot for one submission unless it would pass the per-device or per-address limit in the last
        hour or the code's in the last day; the slot is counted at once. The code's row is locked first (PostgreSQL:
        until commit) and the slot inserted before counting (SQLite: the write lock is taken there), so two
        processes admitting to one code at the same moment are counted one after the other."""
        with self._sessions.begin() as session:
            session.execute(select(DoorCodeRow.id).where(DoorCodeRow.id == code_id).with_for_update())
            slot = DoorCodeSubmissionRow(
                code_id=code_id, device=device[:64], address=address[:64], at=at, petition_number=""
            )
            session.add(slot)
            session.flush()
            checks = (
                (LimitHit.DEVICE, DoorCodeSubmissionRow.device == slot.device, _HOUR, limits.per_device_hour),
                (LimitHit.ADDRESS, DoorCodeSubmissionRow.address == slot.address, _HOUR, limits.per_address_hour),
                (LimitHit.CODE, DoorCodeSubmissionRow.code_id == code_id, _DAY, limits.per_code_day),
            )
            for hit, whose, window, limit in checks:
                counted = select(func.count()).where(whose, DoorCodeSubmissionRow.at > at - window)
                if int(session.scalar(counted) or 0) > limit:  # this slot included
                    session.delete(slot)
                    return Admission(0, hit)
            return Admission(slot.id)

    def settle(self, submission_id: int, number: str) -> None:
        """Note the case a reserved slot made."""
        with self._sessions.begin() as session:
            session.execute(
                update(DoorCodeSubmissionRow)
                .where(DoorCodeSubmissionRow.id == submission_id)
                .values(petition_number=number)
                .execution_options(synchronize_session=False)
            )

    def withdraw(self, submission_id: int) -> None:
        """Give a reserved slot back (nothing was filed with it)."""
        with self._sessions.begin() as session:
            session.execute(delete(DoorCodeSubmissionRow).where(DoorCodeSubmissionRow.id == submission_id))


def _code(row: DoorCodeRow) -> DoorCode:
    return DoorCode(row.id, row.token, row.community, row.place, row.created_by, row.created_at, row.active)
