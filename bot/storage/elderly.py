"""Repository of the elderly subsidy register: residents per community (identity: name, birth month, community),
imported and edited by staff, and the reminders of the daily job stored with their outgoing messages at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.elderly import BirthMonth, ElderlyResident, RegisterError, RegisterLine, ReminderBatch
from bot.domain.outbox import SendPriority
from bot.storage.channel import queued_row
from bot.storage.models import ElderlyResidentRow

_TAKEN = "名单里已经有同名、同出生年月的居民了，请直接修改那一条"
_BUSY = "名单刚被别人改过（可能有同事在同时导入），请刷新后再试"


class _Raced(Exception):
    """A resident of a batch was reminded meanwhile: the batch is rolled back."""


class SqlElderlyRegister:
    """The register's residents and their reminder state."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def import_lines(self, lines: Sequence[RegisterLine], *, community: str, now: datetime) -> tuple[int, int, int]:
        """Add the lines not in the community's register yet and update the family contact of those that are, in one
        transaction; (added, updated, unchanged). Lines must not repeat an identity."""
        added = updated = 0
        try:
            with self._sessions.begin() as session:
                kept = {
                    (row.name, row.birth_year, row.birth_month): row
                    for row in session.scalars(
                        select(ElderlyResidentRow).where(
                            ElderlyResidentRow.community == community,
                            ElderlyResidentRow.name.in_({line.name for line in lines}),
                        )
                    )
                }
                for line in lines:
                    row = kept.get((line.name, line.born.year, line.born.month))
                    if row is None:
                        session.add(_new_row(line, community, now))
                        added += 1
                    elif (row.contact_name, row.contact_phone) != (line.contact_name, line.contact_phone):
                        row.contact_name, row.contact_phone, row.updated_at = line.contact_name, line.contact_phone, now
                        updated += 1
        except IntegrityError:
            raise RegisterError(_BUSY) from None
        return added, updated, len(lines) - added - updated

    def add(self, line: RegisterLine, *, community: str, now: datetime) -> ElderlyResident:
        """One new resident; RegisterError when the community's register has them already."""
        try:
            with self._sessions.begin() as session:
                row = _new_row(line, community, now)
                session.add(row)
                session.flush()
                return _resident(row)
        except IntegrityError:
            raise RegisterError(_TAKEN) from None

    def edit(self, resident_id: int, line: RegisterLine, *, now: datetime) -> ElderlyResident | None:
        """Replace a resident's line; a changed birth month clears the reminder state (it was for another date).
        None when the resident is gone; RegisterError when the new identity is another resident's."""
        try:
            with self._sessions.begin() as session:
                row = session.get(ElderlyResidentRow, resident_id)
                if row is None:
                    return None
                if (row.birth_year, row.birth_month) != (line.born.year, line.born.month):
                    row.reminded_age = row.reminded_at = row.family_notified_at = None
                row.name, row.birth_year, row.birth_month = line.name, line.born.year, line.born.month
                row.contact_name, row.contact_phone, row.updated_at = line.contact_name, line.contact_phone, now
                session.flush()
                return _resident(row)
        except IntegrityError:
            raise RegisterError(_TAKEN) from None

    def delete(self, resident_id: int) -> bool:
        """Remove a resident and all that was kept of them; False when already gone."""
        with self._sessions.begin() as session:
            row = session.get(ElderlyResidentRow, resident_id)
            if row is None:
                return False
            session.delete(row)
            return True

    def get(self, resident_id: int) -> ElderlyResident | None:
        """One resident by id."""
        with self._sessions() as session:
            row = session.get(ElderlyResidentRow, resident_id)
            return _resident(row) if row is not None else None

    def listed(self, *, community: str | None) -> list[ElderlyResident]:
        """The register (one community's if given), the oldest first."""
        query = select(ElderlyResidentRow).order_by(
            ElderlyResidentRow.birth_year, ElderlyResidentRow.birth_month, ElderlyResidentRow.name
        )
        if community is not None:
            query = query.where(ElderlyResidentRow.community == community)
        with self._sessions() as session:
            return [_resident(row) for row in session.scalars(query)]

    def unreminded(self, *, born_by: BirthMonth, age: int) -> list[ElderlyResident]:
        """Residents born in born_by or earlier not yet reminded for age (or an older one), by community, oldest
        first."""
        query = (
            select(ElderlyResidentRow)
            .where(
                tuple_(ElderlyResidentRow.birth_year, ElderlyResidentRow.birth_month) <= (born_by.year, born_by.month),
                _not_reminded(age),
            )
            .order_by(
                ElderlyResidentRow.community,
                ElderlyResidentRow.birth_year,
                ElderlyResidentRow.birth_month,
                ElderlyResidentRow.id,
            )
        )
        with self._sessions() as session:
            return [_resident(row) for row in session.scalars(query)]

    def remind(self, batch: ReminderBatch, *, now: datetime) -> bool:
        """Mark the batch's residents reminded for its age (the family's notified time for those sent an SMS) and
        queue its messages, in one transaction; False, nothing stored, when one was reminded or edited meanwhile or
        the messages were queued before. The dedupe keys name each resident's entry as it was read (its id and last
        edit), so a resident whose birth month was corrected is reminded again, and nobody twice for one version."""
        told = {resident_id for resident_id, _ in batch.family}
        versions = {r.id: f"elderly:{r.id}:{batch.age}:{r.updated_at.isoformat()}" for r in batch.residents}
        try:
            with self._sessions.begin() as session:
                for resident in batch.residents:
                    values: dict[str, object] = {"reminded_age": batch.age, "reminded_at": now}
                    if resident.id in told:
                        values["family_notified_at"] = now
                    claimed = session.execute(
                        update(ElderlyResidentRow)
                        .where(
                            ElderlyResidentRow.id == resident.id,
                            ElderlyResidentRow.updated_at == resident.updated_at,
                            _not_reminded(batch.age),
                        )
                        .values(**values)
                        .execution_options(synchronize_session=False)
                    )
                    if not getattr(claimed, "rowcount", 0):
                        raise _Raced
                for resident_id, message in batch.family:
                    key = f"{versions[resident_id]}:family"
                    source = f"elderly:{resident_id}"
                    session.add(queued_row(message, now, source=source, dedupe_key=key, priority=SendPriority.BULK))
                key = f"{versions[batch.residents[0].id]}:summary:{batch.community}"
                summary = queued_row(
                    batch.summary, now, source="elderly:summary", dedupe_key=key, priority=SendPriority.BULK
                )
                session.add(summary)
        except (_Raced, IntegrityError):
            return False
        return True


def _not_reminded(age: int) -> ColumnElement[bool]:
    return or_(ElderlyResidentRow.reminded_age.is_(None), ElderlyResidentRow.reminded_age < age)


def _new_row(line: RegisterLine, community: str, now: datetime) -> ElderlyResidentRow:
    return ElderlyResidentRow(
        community=community,
        name=line.name,
        birth_year=line.born.year,
        birth_month=line.born.month,
        contact_name=line.contact_name,
        contact_phone=line.contact_phone,
        reminded_age=None,
        reminded_at=None,
        family_notified_at=None,
        created_at=now,
        updated_at=now,
    )


def _resident(row: ElderlyResidentRow) -> ElderlyResident:
    line = RegisterLine(row.name, BirthMonth(row.birth_year, row.birth_month), row.contact_name, row.contact_phone)
    return ElderlyResident(
        row.id, row.community, line, row.reminded_age, row.reminded_at, row.family_notified_at, row.updated_at
    )
