"""A named lease in the database: at most one holder at a time, for as long as it keeps renewing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.ports import Clock
from bot.storage.models import SchedulerLeaseRow


class SqlLease:
    """One row of scheduler_lease, taken or renewed by compare-and-set: of processes trying at once, one wins.

    A holder has the lease while expires_at lies ahead of now; expiry is computed with the caller's clock, so the
    clocks of processes sharing a database must agree to well within the lease's duration.
    """

    def __init__(self, engine: Engine, name: str, *, holder: str, duration: timedelta, clock: Clock) -> None:
        self._engine = engine
        self._name = name
        self.holder = holder
        self._duration = duration
        self._clock = clock

    def try_acquire(self) -> bool:
        """Renew the lease if this holder has it, take it if it is free or expired; whether this holder has it now."""
        now = self._clock.now()
        expires_at = now + self._duration
        row = SchedulerLeaseRow
        try:
            with self._engine.begin() as connection:
                claimed = connection.execute(
                    update(row)
                    .where(row.name == self._name, or_(row.holder == self.holder, row.expires_at <= now))
                    .values(holder=self.holder, expires_at=expires_at)
                )
                if claimed.rowcount:
                    return True
                if connection.execute(select(row.name).where(row.name == self._name)).first() is not None:
                    return False  # another holder's lease, still running
                connection.execute(insert(row).values(name=self._name, holder=self.holder, expires_at=expires_at))
        except IntegrityError:  # another process inserted the row first
            return False
        return True

    def held(self) -> bool:
        """Whether this holder has the lease at this moment (a read, no renewal)."""
        row = SchedulerLeaseRow
        query = select(row.name).where(
            row.name == self._name, row.holder == self.holder, row.expires_at > self._clock.now()
        )
        with self._engine.connect() as connection:
            return connection.execute(query).first() is not None

    def release(self) -> None:
        """Give the lease up if this holder has it, so another process can take it on its next try."""
        row = SchedulerLeaseRow
        with self._engine.begin() as connection:
            connection.execute(delete(row).where(row.name == self._name, row.holder == self.holder))
