"""Workflows as data: which event moves an entity from one status to the next, and the record of each move.

A workflow is a table (status, event) → status; any pair not in it is refused. The unanswered questions use one
today (`bot.domain.escalation.QUESTION_WORKFLOW`); petitions (诉求) are meant to bring theirs in the same form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from bot.domain.errors import AssistantError

S = TypeVar("S", bound=str)
E = TypeVar("E", bound=str)


class TransitionNotAllowed(AssistantError):
    """An event the entity's status does not allow, or an entity that is not there; the message says so in
    Chinese. status is None when the entity was not found."""

    def __init__(
        self, message: str, *, entity_id: int | None = None, status: str | None = None, event: str = ""
    ) -> None:
        super().__init__(message)
        self.entity_id = entity_id
        self.status = status
        self.event = event


@dataclass(frozen=True, slots=True)
class Transition:
    """One move of one entity through its workflow: what it was, what it became, on which event, by whom, when."""

    kind: str
    entity_id: int
    from_status: str
    to_status: str
    event: str
    actor: str
    at: datetime
    note: str = ""
    # The recorded move's number, rising in the order moves were recorded (0 before it is stored); two records of
    # the same move compare equal whatever their numbers
    id: int = field(default=0, compare=False)


class Workflow(Generic[S, E]):
    """A transition table built from data, with the Chinese names staff read for its statuses and events."""

    def __init__(
        self,
        kind: str,
        noun: str,
        *,
        statuses: Mapping[S, str],
        events: Mapping[E, str],
        moves: Mapping[tuple[S, E], S],
        error: type[TransitionNotAllowed] = TransitionNotAllowed,
    ) -> None:
        """kind names the entities in stored transitions ("question"); noun is what staff call one ("问题");
        statuses and events map each to its Chinese name; error is the refusal raised (a subclass, for callers
        that catch one workflow's refusals)."""
        for (status, event), target in moves.items():
            if status not in statuses or target not in statuses or event not in events:
                raise ValueError(f"{kind}: move ({status}, {event}) → {target} uses an unnamed status or event")
        self.kind = kind
        self.noun = noun
        self._statuses = dict(statuses)
        self._events = dict(events)
        self._moves = dict(moves)
        self._error = error

    def next(self, status: S, event: E, *, entity_id: int | None = None) -> S:
        """The status event leads to from status; TransitionNotAllowed when the table has no such move."""
        target = self._moves.get((status, event))
        if target is None:
            raise self.refusal(entity_id, status, event)
        return target

    def allowed_events(self, status: S) -> tuple[E, ...]:
        """The events status allows, in the table's order."""
        return tuple(event for (source, event) in self._moves if source == status)

    def status_of(self, value: str) -> S | None:
        """The status stored as value, or None if this workflow has no such status."""
        return next((status for status in self._statuses if status == value), None)

    def refusal(self, entity_id: int | None, status: S | None, event: E) -> TransitionNotAllowed:
        """The error for event on an entity in status (None: no such entity), worded for staff."""
        done = self._events.get(event, event)
        if status is None:
            message = f"没有找到{self.noun} #{entity_id}"
        elif entity_id is None:
            message = f"“{self._statuses.get(status, status)}”的{self.noun}不能{done}"
        else:
            message = f"{self.noun} #{entity_id} 现在是“{self._statuses.get(status, status)}”，不能{done}"
        return self._error(message, entity_id=entity_id, status=status, event=event)
