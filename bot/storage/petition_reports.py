"""Petitions read in bulk, within the board's scope: keyset-paginated batches for the export, and the dashboard's
counts computed in SQL (the time-to-close percentiles over one bounded, indexed fetch of durations in seconds)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.domain.petitions import BoardFilter, Petition, PetitionStatus
from bot.storage.models import PetitionRow
from bot.storage.petitions import SqlPetitions, _petition

# Open cases are listed rather than done ones excluded: an IN over few statuses uses the status index.
_OPEN = tuple(status.value for status in PetitionStatus if not status.done)
_RESOLVED = (PetitionStatus.RESOLVED.value, PetitionStatus.CLOSED.value)


class SecondsBetween(FunctionElement[float]):
    """SQL: the seconds from one timestamp column to another, so durations leave the database as plain numbers
    (turning 20,000 stored timestamps into datetimes cost more than the query)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(SecondsBetween)
def _seconds_between(element: SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    """PostgreSQL (and any database with interval arithmetic)."""
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(SecondsBetween, "sqlite")
def _seconds_between_sqlite(element: SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite keeps timestamps as text: their Julian days apart, in seconds."""
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


class SqlPetitionReports(SqlPetitions):
    """The same cases as the board, scoped the same way (community through the reporting group, department), read
    for the export and the dashboard."""

    def in_batches(self, shown: BoardFilter, *, size: int) -> Iterator[list[Petition]]:
        """Every case shown matches (its status too), in filing order, size at a time: each batch is one query after
        the last id seen (no offset scan) in a session of its own, so no more than one batch of rows is held."""
        last = 0
        while True:
            query = self._filtered(select(PetitionRow), shown).where(PetitionRow.id > last)
            if shown.status is not None:
                query = query.where(PetitionRow.status == shown.status.value)
            with self._sessions() as session:
                batch = [_petition(row) for row in session.scalars(query.order_by(PetitionRow.id).limit(size))]
            if batch:
                yield batch
            if len(batch) < size:
                return
            last = batch[-1].id

    def filed_per_day(self, starts: Sequence[datetime], shown: BoardFilter) -> list[int]:
        """Cases filed between each start and the next, counted in one query grouped by the day they fall in."""
        if len(starts) < 2:
            return []
        day = case(*((PetitionRow.created_at < start, n) for n, start in enumerate(starts[1:])), else_=-1)
        inner = self._filtered(select(day.label("day")), shown).where(
            PetitionRow.created_at >= starts[0], PetitionRow.created_at < starts[-1]
        )
        days = inner.subquery()
        counts = [0] * (len(starts) - 1)
        with self._sessions() as session:
            for n, filed in session.execute(select(days.c.day, func.count()).group_by(days.c.day)):
                if 0 <= n < len(counts):
                    counts[n] = int(filed)
        return counts

    def filed_totals(self, start: datetime, end: datetime, shown: BoardFilter) -> dict[tuple[str, str], int]:
        """(status, category) → cases filed between two times."""
        query = (
            self._filtered(select(PetitionRow.status, PetitionRow.category, func.count()), shown)
            .where(PetitionRow.created_at >= start, PetitionRow.created_at < end)
            .group_by(PetitionRow.status, PetitionRow.category)
        )
        with self._sessions() as session:
            return {(status, category): int(n) for status, category, n in session.execute(query)}

    def close_durations(self, since: datetime, shown: BoardFilter) -> list[timedelta]:
        """Filing to resolution of each case resolved since a time and resolved or closed now (a reopened case
        counts once it is resolved again)."""
        took = SecondsBetween(PetitionRow.created_at, PetitionRow.resolved_at)
        query = self._filtered(select(took), shown).where(
            PetitionRow.status.in_(_RESOLVED), PetitionRow.resolved_at >= since
        )
        with self._sessions() as session:
            return [timedelta(seconds=round(float(seconds), 3)) for seconds in session.scalars(query)]

    def deadlines(self, now: datetime, shown: BoardFilter) -> tuple[int, int]:
        """(open cases past their deadline at now, open cases with a deadline), in one query."""
        late = func.coalesce(func.sum(case((PetitionRow.due_at < now, 1), else_=0)), 0)
        query = self._filtered(select(late, func.count()), shown).where(
            PetitionRow.due_at.is_not(None), PetitionRow.status.in_(_OPEN)
        )
        with self._sessions() as session:
            overdue, with_deadline = session.execute(query).one()
        return int(overdue), int(with_deadline)

    def ratings(self, since: datetime, shown: BoardFilter) -> dict[str, int]:
        """Rating ("" when none was given) → cases resolved since a time and closed since."""
        query = (
            self._filtered(select(PetitionRow.rating, func.count()), shown)
            .where(PetitionRow.status == PetitionStatus.CLOSED.value, PetitionRow.resolved_at >= since)
            .group_by(PetitionRow.rating)
        )
        with self._sessions() as session:
            return {rating: int(n) for rating, n in session.execute(query)}
